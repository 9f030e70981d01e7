"""Commands on the internal topic `crisis.by-country` (key: ISO country code), from the routing agent to the
country agent. Everything about one country (its travellers, reports and incidents) goes through one partition,
so the country agent's tables are co-partitioned with its stream and an incident sees every traveller of its
country locally. Identifiers are computed before routing: names and report texts never reach this topic.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Command(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TravellerUpsert(_Command):
    op: Literal["traveller.upsert"] = "traveller.upsert"
    traveller_id: str
    country: str
    lat: float | None = None
    lon: float | None = None
    tz: str | None = None
    arrival: date
    departure: date
    phone: str | None = None
    email: str | None = None
    language: str = "en"
    identifiers: list[str]
    #: The registration's offset on its source partition (a traveller's events are all on one): a traveller who
    #: moves country has commands on two partitions of crisis.by-country, handled in either order; the engine
    #: keeps the latest (None: from before this field, always applied).
    seq: int | None = None


class TravellerRemove(_Command):
    """A cancelled registration, or one that moved to another country (sent to the old country): it removes the
    traveller's record of `country`, unless a later one (higher `seq`) or another country's replaced it."""

    op: Literal["traveller.remove"] = "traveller.remove"
    traveller_id: str
    country: str | None = None
    seq: int | None = None


class TravellersBatch(_Command):
    """What a run of registrations changes in one country, in the order of their source partition: one record on
    `crisis.by-country` and one evaluation of the country's incidents (the routing agent's `ForwardBuffer`)."""

    op: Literal["travellers.batch"] = "travellers.batch"
    commands: list[Annotated[TravellerUpsert | TravellerRemove, Field(discriminator="op")]]


class ReportSeen(_Command):
    op: Literal["report.seen"] = "report.seen"
    reference: str
    country: str
    lat: float | None = None
    lon: float | None = None
    received_at: datetime
    identifiers: list[str]


class IncidentUpsert(_Command):
    op: Literal["incident.upsert"] = "incident.upsert"
    incident_id: str
    title: str
    kind: str
    severity: str
    area: dict[str, object]
    occurred_at: datetime
    origin: Literal["gdacs", "usgs", "feed", "external", "manual"] = "external"  # see activation.incident_origin
    link: str | None = None  # the event's page at its source


class IncidentClose(_Command):
    op: Literal["incident.close"] = "incident.close"
    incident_id: str


class RescanSlice(_Command):
    """The next slice of an incident's rescan: after an incident is reported or its area changes, the country
    agent brings the country's travellers and reports in line `engine.RESCAN_SLICE` at a time, each slice an event
    of its own, so that an incident over a crowd of 100,000 never holds the worker's event loop for seconds and
    the count grows visibly. `generation` tells a slice of an outdated rescan (the area changed again) to stop."""

    op: Literal["incident.rescan"] = "incident.rescan"
    incident_id: str
    generation: int
    after: str  # the last key handled: "t:<traveller_id>" or "r:<reference>"


class Tick(_Command):
    """Periodic: stays that ended or began, threshold changes, crises closed by a coordinator."""

    op: Literal["tick"] = "tick"
    at: datetime


class ProposalDecided(_Command):
    """A coordinator confirmed or dismissed the proposal (round `round`) to open the incident's crisis; sent by the
    worker's poller from the `proposals` table, until the country agent has applied it (idempotent)."""

    op: Literal["proposal.decided"] = "proposal.decided"
    incident_id: str
    round: int
    decision: Literal["confirmed", "dismissed"]
    actor: str


Command = Annotated[
    TravellerUpsert | TravellerRemove | TravellersBatch | ReportSeen | IncidentUpsert | IncidentClose
    | ProposalDecided | RescanSlice | Tick,
    Field(discriminator="op"),
]
COMMAND = TypeAdapter(Command)


def encode_command(command: _Command) -> bytes:
    return command.model_dump_json(exclude_none=True).encode()


def decode_command(raw: bytes) -> Command:
    return COMMAND.validate_json(raw)
