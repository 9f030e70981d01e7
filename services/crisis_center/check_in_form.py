"""The check-in page's form read (no I/O): the contact normalised, the person placed (the position typed, else the
town named) and inside the crisis area, or the key of the page's text naming what to correct."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from email_validator import EmailNotValidError, validate_email

from services.crisis_center import check_in
from shared.gazetteer import Gazetteer
from shared.geo import Area, Point

#: What the form cannot go on with, each the key of the page's text saying so ("title": no answer chosen, which
#: only a client ignoring the radio buttons' `required` sends; "outside": placed outside the crisis area).
Problem = Literal["need_name", "bad_phone", "bad_email", "need_contact", "title", "not_found", "outside"]


@dataclass(frozen=True)
class Fields:
    """The form's fields as posted (strings, at most their `Form(max_length=...)`)."""

    full_name: str = ""
    phone: str = ""
    email: str = ""
    place: str = ""
    lat: str = ""
    lon: str = ""
    companions: str = "0"
    answer: str = ""


def contact(phone: str, email: str, country: str) -> tuple[str | None, str | None, Problem | None]:
    """The phone in E.164 (read in `country`, then BE) and the email address normalised, each None when not given; or
    the text naming what to correct (its key: bad_phone, bad_email, need_contact) in the third place."""
    e164 = check_in.normalised_phone(phone, country) if phone.strip() else None
    if phone.strip() and e164 is None:
        return None, None, "bad_phone"
    address = None
    if email.strip():
        try:
            address = validate_email(email.strip(), check_deliverability=False).normalized
        except EmailNotValidError:
            return None, None, "bad_email"
    if e164 is None and address is None:
        return None, None, "need_contact"
    return e164, address, None


def position(lat: str, lon: str) -> Point | None:
    """The position typed (a decimal comma taken), or None when either is missing, unreadable or out of range."""
    try:
        if lat.strip() and lon.strip():
            point = Point(float(lat.replace(",", ".")), float(lon.replace(",", ".")))
            if -90 <= point.lat <= 90 and -180 <= point.lon <= 180:
                return point
    except ValueError:
        pass
    return None


def companions(raw: str) -> int:
    """How many are with the person: a count from 0 to 50; anything else counts as 0."""
    try:
        return min(max(int(raw or "0"), 0), 50)
    except ValueError:
        return 0


def read_form(fields: Fields, *, language: Literal["fr", "nl", "de", "en"], area: Area, gazetteer: Gazetteer,
              client_ip: str | None) -> check_in.Form | Problem:
    """The check-in to start, or what stops it, checked in the form's order: the name, the contact, the answer,
    the place (the position typed, else the first town of the crisis's country named in `place`), the area."""
    if not fields.full_name.strip():
        return "need_name"
    e164, address, wrong = contact(fields.phone, fields.email, area.country)
    if wrong is not None:
        return wrong
    if fields.answer not in ("safe", "needs_help"):
        return "title"
    place_name = fields.place.strip() or None
    point = position(fields.lat, fields.lon)
    if point is None and place_name:
        found = gazetteer.locate_in_text(area.country, place_name)
        if found is not None:
            point = found[0]
    if point is None:
        return "not_found"
    if not area.contains(point, area.country):
        return "outside"
    answer: Literal["safe", "needs_help"] = "safe" if fields.answer == "safe" else "needs_help"
    return check_in.Form(full_name=fields.full_name.strip(), phone=e164, email=address, language=language,
                         place=place_name, point=point, country=area.country, companions=companions(fields.companions),
                         answer=answer, client_ip=client_ip)
