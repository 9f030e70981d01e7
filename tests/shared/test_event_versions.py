"""The `dataversion` extension attribute and the registry's upcasters (docs/CONVENTIONS.md, "Event versions"):
older data is brought to the current model's shape before it is validated; unknown versions are refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.events import registry
from shared.events.envelope import CloudEvent, InvalidEvent, decode, encode
from shared.events.incidents import IncidentClosed

CLOSED = IncidentClosed.TYPE


def event(data: dict[str, Any], **extensions: Any) -> CloudEvent:
    body = {"specversion": "1.0", "id": "e-1", "source": "/tests", "type": CLOSED, "time": datetime.now(UTC),
            "data": data, **extensions}
    return decode(encode(CloudEvent.model_validate(body)))  # through the wire, as a consumer reads it


def test_without_the_attribute_the_data_is_version_one_and_read_as_it_is() -> None:
    closed = registry.parse_data(event({"incident_id": "inc-7"}))
    assert closed == IncidentClosed(incident_id="inc-7")
    assert registry.current_version(CLOSED) == 1


def test_older_data_goes_through_each_upcaster_in_order(upcasters: dict[tuple[str, int], registry.Upcaster]) -> None:
    # Version 1 called it `id`, version 2 `incident`, version 3 (the model) `incident_id`.
    registry.upcaster(CLOSED, 1)(lambda data: {"incident": data["id"]})
    registry.upcaster(CLOSED, 2)(lambda data: {"incident_id": data["incident"].upper()})
    assert registry.current_version(CLOSED) == 3
    assert registry.parse_data(event({"id": "inc-1"})) == IncidentClosed(incident_id="INC-1")
    assert registry.parse_data(event({"incident": "inc-2"}, dataversion=2)) == IncidentClosed(incident_id="INC-2")
    assert registry.parse_data(event({"incident_id": "inc-3"}, dataversion="3")) == IncidentClosed(
        incident_id="inc-3")


def test_the_current_version_follows_each_change_of_the_upcasters(
        upcasters: dict[tuple[str, int], registry.Upcaster]) -> None:
    assert registry.current_version(CLOSED) == 1  # asked once: kept
    registry.upcaster(CLOSED, 1)(lambda data: data)
    assert registry.current_version(CLOSED) == 2
    upcasters.update({(CLOSED, 2): lambda data: data})
    assert registry.current_version(CLOSED) == 3
    del upcasters[(CLOSED, 2)]
    assert registry.current_version(CLOSED) == 2
    upcasters.pop((CLOSED, 1))
    assert registry.current_version(CLOSED) == 1
    upcasters.setdefault((CLOSED, 1), lambda data: data)
    assert registry.current_version(CLOSED) == 2
    upcasters.clear()
    assert registry.current_version(CLOSED) == 1


def test_a_version_newer_than_the_service_reads_is_refused(upcasters: dict[tuple[str, int], registry.Upcaster]
                                                           ) -> None:
    with pytest.raises(InvalidEvent, match="newer than this service reads"):
        registry.parse_data(event({"incident_id": "inc-1"}, dataversion=2))


@pytest.mark.parametrize("version", [0, -1, "two", True, 1.5])
def test_a_dataversion_that_is_not_a_positive_integer_is_refused(version: object) -> None:
    with pytest.raises(InvalidEvent, match="dataversion must be a positive integer"):
        registry.parse_data(event({"incident_id": "inc-1"}, dataversion=version))


def test_one_upcaster_per_type_and_version(upcasters: dict[tuple[str, int], registry.Upcaster]) -> None:
    registry.upcaster(CLOSED, 1)(dict)
    with pytest.raises(ValueError, match="registered already"):
        registry.upcaster(CLOSED, 1)(dict)


def test_a_gap_in_the_chain_is_refused(upcasters: dict[tuple[str, int], registry.Upcaster]) -> None:
    registry.upcaster(CLOSED, 2)(dict)  # version 1 has no way up
    with pytest.raises(InvalidEvent, match="no upcaster"):
        registry.parse_data(event({"incident_id": "inc-1"}))
