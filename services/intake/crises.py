"""The active crises intake keeps from `crisis.status` (hotline numbers for the voice line, areas for check-ins by SMS
and for the crisis of a missing-person report).
"""

from __future__ import annotations

import asyncpg

from services.intake.adapters import repository
from services.intake.domain.check_in import crises_with_areas
from services.intake.domain.model import ReportIn
from shared.events.crisis import CrisisActivated, CrisisClosed, CrisisUpdated
from shared.geo import Point


async def crisis_status(data: CrisisActivated | CrisisUpdated | CrisisClosed, conn: asyncpg.Connection) -> None:
    """Keep the active crises (hotline numbers for the voice line, areas for check-ins by SMS). An exercise is
    never one: the public line does not announce it, and a real person's SMS is never matched to it."""
    active = data.status == "active" and not isinstance(data, CrisisClosed) and not data.exercise
    await repository.crisis_state(conn, crisis_id=data.crisis_id, title=data.title,
                                  hotline_number=data.hotline_number, active=active,
                                  area=data.area.model_dump(mode="json", exclude_none=True) if data.area else None)


async def crisis_at(conn: asyncpg.Connection, report: ReportIn) -> str | None:
    """The active crisis whose area holds the report's place (its point, else its country; the latest of two),
    if any."""
    location = report.location
    point = Point(location.lat, location.lon) if location.lat is not None and location.lon is not None else None
    crises = crises_with_areas(await repository.crisis_areas(conn))
    found = ([c for c in crises if c.area.contains(point, location.country)]
             or [c for c in crises if c.area.country == location.country])
    return found[-1].crisis_id if found else None
