"""Where people are: the registered travellers intake keeps (from `travellers.registrations`, for the families'
inquiries and to locate an SMS), and the country a caller's number suggests.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg
import phonenumbers

from services.intake import families
from services.intake.handlers import IntakeConfig
from shared.events.travellers import TravellerCancelled, TravellerRegistered


def country_of(phone: str, hint: str | None = None) -> str:
    """Where a caller probably is: Twilio's FromCountry when given, else the number's country, else Belgium."""
    if hint and len(hint) == 2 and hint.isalpha():
        return hint.upper()
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        region = None
    return region if region and region != "ZZ" else "BE"


async def traveller_registration(data: TravellerRegistered | TravellerCancelled, conn: asyncpg.Connection, *,
                                 config: IntakeConfig) -> None:
    """Keep where each registered traveller stays (a newer registration replaces the older one), and look for
    the families' inquiries the traveller might answer."""
    if isinstance(data, TravellerCancelled):
        await conn.execute("DELETE FROM registered_travellers WHERE traveller_id = $1", data.traveller_id)
        await families.forget(conn, data.traveller_id)
        return
    location = data.location
    await conn.execute(
        "INSERT INTO registered_travellers (traveller_id, phone, language, country, city, lat, lon, departure)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (traveller_id) DO UPDATE SET phone = $2,"
        " language = $3, country = $4, city = $5, lat = $6, lon = $7, departure = $8, updated_at = now()",
        data.traveller_id, data.phone, data.language, data.country, data.city,
        location.lat if location else None, location.lon if location else None, data.departure)
    await families.learn(conn, person_id=data.traveller_id, full_name=data.full_name, phone=data.phone,
                         country=data.country, place=", ".join(p for p in (data.city, data.country) if p),
                         source=config.source, topic_prefix=config.topic_prefix)


async def registration_tombstone(topic: str, key: str, conn: asyncpg.Connection | None) -> None:
    """A tombstone on `travellers.registrations` (erasure, retention, compaction) removes the registration."""
    if topic == "travellers.registrations" and conn is not None:
        await conn.execute("DELETE FROM registered_travellers WHERE traveller_id = $1", key)
        await families.forget(conn, key)


async def whereabouts(conn: asyncpg.Connection, phone: str, *, today: date) -> dict[str, Any] | None:
    """Where a registered traveller with this phone stays now (the latest registration), if anywhere."""
    row = await conn.fetchrow(
        "SELECT country, city, lat, lon FROM registered_travellers WHERE phone = $1 AND departure >= $2"
        " ORDER BY updated_at DESC LIMIT 1", phone, today)
    if row is None:
        return None
    return {k: v for k, v in dict(row).items() if v is not None}
