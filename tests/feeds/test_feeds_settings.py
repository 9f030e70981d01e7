"""The feeds worker's settings: the contract's variables and defaults; no secret needed (it serves no API)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.feeds.settings import FeedsSettings


def test_defaults_are_the_contracts(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GDACS_FEED_URL", "USGS_FEED_URL", "FEED_POLL_SECONDS", "FEED_MIN_GDACS_ALERT",
                 "FEED_MIN_USGS_MAGNITUDE", "FEED_INCIDENT_TTL_HOURS", "JWT_SECRET", "HEALTH_PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = FeedsSettings()
    assert (settings.feed_poll_seconds, settings.feed_min_gdacs_alert, settings.feed_min_usgs_magnitude,
            settings.feed_incident_ttl_hours) == (60.0, "orange", 6.0, 72.0)
    assert settings.gdacs_feed_url.endswith("/xml/rss.xml") and settings.usgs_feed_url.endswith(".geojson")
    assert settings.health_port == 9105 and settings.schema_name == "feeds"


def test_the_environment_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GDACS_FEED_URL", "http://127.0.0.1:8091/gdacs/rss.xml")
    monkeypatch.setenv("USGS_FEED_URL", "http://127.0.0.1:8091/usgs/4.5_week.geojson")
    monkeypatch.setenv("FEED_POLL_SECONDS", "15")
    monkeypatch.setenv("FEED_MIN_GDACS_ALERT", "Red")
    monkeypatch.setenv("FEED_MIN_USGS_MAGNITUDE", "6.5")
    monkeypatch.setenv("FEED_INCIDENT_TTL_HOURS", "24")
    settings = FeedsSettings()
    assert settings.gdacs_feed_url == "http://127.0.0.1:8091/gdacs/rss.xml"
    assert settings.usgs_feed_url == "http://127.0.0.1:8091/usgs/4.5_week.geojson"
    assert (settings.feed_poll_seconds, settings.feed_min_gdacs_alert, settings.feed_min_usgs_magnitude,
            settings.feed_incident_ttl_hours) == (15.0, "red", 6.5, 24.0)


@pytest.mark.parametrize(("name", "value"), [("FEED_MIN_GDACS_ALERT", "purple"), ("FEED_POLL_SECONDS", "0"),
                                             ("FEED_MIN_USGS_MAGNITUDE", "11"), ("FEED_INCIDENT_TTL_HOURS", "-1")])
def test_nonsense_is_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        FeedsSettings()
