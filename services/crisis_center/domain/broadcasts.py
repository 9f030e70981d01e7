"""Coordinators' broadcasts (follow-up messages and the all-clear): texts per language, the two-person rule's
decisions, who is reached, and the send planner. Pure: no I/O.

A broadcast is written by one coordinator (`pending`), then approved by another (`approved`: its messages are
enqueued once) or rejected; left pending past its approval window it is `expired`. Only its author may edit it
while pending; an edit makes it a new version, and an approval names the version it approves, so nobody approves
a text they have not seen.

The planner says, before anything is sent, how many people are reached on which channel in which language, how
many SMS segments each language's text costs (GSM 03.38 default alphabet and its extension table: 160 septets in
one message, 153 per segment of a longer one; otherwise UCS-2: 70 and 67 code units), and how long until the last
message is handed over at the configured sender rates, with one and two more senders.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from shared.geo import Area as GeoArea
from shared.geo import InvalidArea, LonLat, Point
from shared.sms import SmsInfo, analyse, tidy_sms

LANGUAGES: tuple[str, ...] = ("fr", "nl", "de", "en")
FALLBACK = "en"
Kind = Literal["followup", "all_clear"]
Audience = Literal["everyone", "not_answered", "needs_help", "area"]
Status = Literal["pending", "approved", "rejected", "expired"]
AUDIENCES: tuple[str, ...] = ("everyone", "not_answered", "needs_help", "area")
STATUSES: tuple[str, ...] = ("pending", "approved", "rejected", "expired")
MAX_TEXT = 1000  # characters of one language's text (7 GSM-7 segments; the email carries it whole)


# texts ------------------------------------------------------------------------------------------------------------
class BadTexts(ValueError):
    """Texts that do not say, for every language, either the text or that it falls back to English."""


def resolve_texts(texts: Mapping[str, str], fallback: Iterable[str]) -> dict[str, str]:
    """The text sent in each language: its own, or the English one where the language is explicitly marked as
    falling back. Every language must be one or the other, not both; English itself never falls back."""
    falls = set(fallback)
    unknown = (set(texts) | falls) - set(LANGUAGES)
    if unknown:
        raise BadTexts(f"unknown languages: {sorted(unknown)}")
    if FALLBACK in falls:
        raise BadTexts("English cannot fall back: it is the fallback")
    if FALLBACK not in texts:
        raise BadTexts("the English text is required")
    both = falls & set(texts)
    if both:
        raise BadTexts(f"given and marked as falling back to English: {sorted(both)}")
    missing = set(LANGUAGES) - set(texts) - falls
    if missing:
        raise BadTexts(f"neither a text nor marked as falling back to English: {sorted(missing)}")
    return {lang: texts[lang] if lang in texts else texts[FALLBACK] for lang in LANGUAGES}


_PREFILL = {
    "fr": "Affaires étrangères - {title}: [votre message]. Aide: {hotline}",
    "nl": "Buitenlandse Zaken - {title}: [uw bericht]. Hulp: {hotline}",
    "de": "Auswärtige Angelegenheiten - {title}: [Ihre Nachricht]. Hilfe: {hotline}",
    "en": "Belgian Foreign Affairs - {title}: [your message]. Help: {hotline}",
}


def prefill(*, title: str, hotline: str) -> dict[str, str]:
    """The starting text of a follow-up in each language (the coordinator replaces the bracketed part)."""
    return {lang: _PREFILL[lang].format(title=title, hotline=hotline) for lang in LANGUAGES}


# the two-person rule ---------------------------------------------------------------------------------------------
class Refused(Exception):
    """A decision the rule does not allow; `status` is the HTTP status it maps to (403 or 409)."""

    def __init__(self, reason: str, *, status: int) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class State:
    status: Status
    author: str
    version: int
    expires_at: datetime
    decided_by: str | None = None


def expired(state: State, now: datetime) -> bool:
    """A pending broadcast nobody approved within its window (judged with the caller's clock)."""
    return state.status == "pending" and now >= state.expires_at


def check_approval(state: State, *, approver: str, version: int, now: datetime) -> bool:
    """Whether approving sends now (True) or changes nothing (False: this approver approved this version already,
    an approval sent twice). Refused: by the author (403), of another version than the current (409), of a
    broadcast rejected, expired or approved by someone else (409)."""
    if state.status == "approved":
        if state.decided_by == approver and state.version == version:
            return False
        raise Refused("the broadcast is already approved", status=409)
    if state.status != "pending" or expired(state, now):
        raise Refused(f"the broadcast is {'expired' if state.status == 'pending' else state.status}", status=409)
    if approver == state.author:
        raise Refused("the author cannot approve their own broadcast: a second coordinator must", status=403)
    if version != state.version:
        raise Refused(f"the broadcast was edited: version {state.version} is the one to approve", status=409)
    return True


def check_edit(state: State, *, editor: str, now: datetime) -> None:
    if editor != state.author:
        raise Refused("only the author can edit a pending broadcast", status=403)
    if state.status != "pending" or expired(state, now):
        raise Refused(f"the broadcast is {'expired' if state.status == 'pending' else state.status}: "
                      "it can no longer be edited", status=409)


def check_rejection(state: State, *, now: datetime) -> None:
    if state.status != "pending" or expired(state, now):
        raise Refused(f"the broadcast is {'expired' if state.status == 'pending' else state.status}: "
                      "there is nothing to reject", status=409)


def expiry(at: datetime, minutes: int) -> datetime:
    return at + timedelta(minutes=minutes)


# the audience -----------------------------------------------------------------------------------------------------
class BadPolygon(ValueError):
    pass


def check_polygon(polygon: Sequence[LonLat], crisis_area: GeoArea) -> tuple[LonLat, ...]:
    """A drawn area: a valid polygon whose corners all lie inside the crisis area (a whole-country crisis area
    accepts any polygon: its border is not known here)."""
    corners = tuple((float(lon), float(lat)) for lon, lat in polygon)
    try:
        GeoArea(country=crisis_area.country, polygon=corners)
    except InvalidArea as exc:
        raise BadPolygon(str(exc)) from exc
    if crisis_area.kind != "country":
        outside = [c for c in corners if not crisis_area.contains(Point(c[1], c[0]), crisis_area.country)]
        if outside:
            raise BadPolygon(f"{len(outside)} corner(s) outside the crisis area")
    return corners


def inside(polygon: Sequence[LonLat], lat: float, lon: float) -> bool:
    return GeoArea(country="", polygon=tuple(polygon)).contains(Point(lat, lon), None)


# the planner -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Contact:
    """One person reached: their language and which addresses we have (no address itself: the planner needs none)."""

    language: str
    phone: bool
    email: bool


@dataclass(frozen=True, slots=True)
class Sender:
    name: str
    rate_per_second: float


class BadSenders(ValueError):
    pass


def parse_senders(value: str) -> tuple[Sender, ...]:
    """'main=50,backup=30': sender numbers (or messaging services) and their messages per second."""
    senders: list[Sender] = []
    for item in filter(None, (i.strip() for i in value.split(","))):
        name, sep, rate = item.partition("=")
        try:
            per_second = float(rate)
        except ValueError:
            per_second = math.nan
        if not sep or not name.strip() or not per_second > 0 or math.isinf(per_second):
            raise BadSenders(f"not 'name=messages per second' with a positive rate: {item!r}")
        senders.append(Sender(name.strip(), per_second))
    if not senders:
        raise BadSenders("at least one sender is needed")
    return tuple(senders)


@dataclass(frozen=True, slots=True)
class Scenario:
    senders: int
    sms_per_second: float
    sms_seconds: float
    seconds_to_last: float


@dataclass(frozen=True)
class Plan:
    people: int
    recipients: dict[str, dict[str, int]]
    """Per channel (sms, email), per language: messages."""
    sms: dict[str, SmsInfo]
    """Per language: the SMS text's encoding and segments."""
    sms_segments: int
    """Segments billed for the whole send (each person's language)."""
    email_seconds: float
    current: Scenario
    more_senders: list[Scenario] = field(default_factory=list)
    """One, then two more senders at the mean rate of the configured ones."""


def _scenario(count: int, rates: Sequence[float], email_seconds: float) -> Scenario:
    rate = sum(rates)
    sms_seconds = count / rate if count else 0.0
    return Scenario(len(rates), rate, round(sms_seconds, 3), round(max(sms_seconds, email_seconds), 3))


def plan(contacts: Sequence[Contact], sms_texts: Mapping[str, str], *, senders: Sequence[Sender],
         email_rate_per_second: float) -> Plan:
    """The send planner. Every person gets the SMS when we have their phone and the email when we have their
    address (the two go out side by side, each paced on its own); a message is one send whatever its segments
    (rates are messages per second, as the notifier paces them). The time to the last recipient is the larger of
    `messages / summed sender rates` for SMS and `messages / email rate` (0: unlimited) for email."""
    if not senders:
        raise BadSenders("at least one sender is needed")
    per: dict[str, dict[str, int]] = {"sms": dict.fromkeys(LANGUAGES, 0), "email": dict.fromkeys(LANGUAGES, 0)}
    for contact in contacts:
        language = contact.language if contact.language in LANGUAGES else FALLBACK
        if contact.phone:
            per["sms"][language] += 1
        if contact.email:
            per["email"][language] += 1
    info = {lang: analyse(tidy_sms(sms_texts[lang])) for lang in LANGUAGES if lang in sms_texts}
    billed = sum(count * info[lang].segments for lang, count in per["sms"].items() if count and lang in info)
    sms_count, email_count = sum(per["sms"].values()), sum(per["email"].values())
    email_seconds = round(email_count / email_rate_per_second, 3) if email_count and email_rate_per_second > 0 \
        else 0.0
    rates = [s.rate_per_second for s in senders]
    mean = sum(rates) / len(rates)
    return Plan(people=len(contacts), recipients=per, sms=info, sms_segments=billed, email_seconds=email_seconds,
                current=_scenario(sms_count, rates, email_seconds),
                more_senders=[_scenario(sms_count, [*rates, *[mean] * extra], email_seconds) for extra in (1, 2)])


# The all-clear's SMS per language, for the planner only: the notifier sends its `crisis_closed` template, whose SMS
# block this repeats (tests/crisis_center/domain/test_broadcasts.py renders the template and compares).
_ALL_CLEAR_SMS = {
    "fr": "Affaires étrangères - la crise \"{title}\" est terminée et la ligne de crise est fermée. Pour une aide "
          "consulaire, contactez l'ambassade ou le consulat belge le plus proche.",
    "nl": "Buitenlandse Zaken - de crisis \"{title}\" is voorbij en de crisislijn is gesloten. Voor consulaire hulp: "
          "neem contact op met de dichtstbijzijnde Belgische ambassade of het consulaat.",
    "de": "Belgisches Außenministerium - die Krise \"{title}\" ist beendet und die Krisenhotline geschlossen. Für "
          "konsularische Hilfe wenden Sie sich an die nächste belgische Botschaft oder das Konsulat.",
    "en": "Belgian Foreign Affairs - the crisis \"{title}\" is over and the crisis hotline is closed. For consular "
          "help, contact the nearest Belgian embassy or consulate.",
}


def all_clear_sms(title: str) -> dict[str, str]:
    return {lang: _ALL_CLEAR_SMS[lang].format(title=title) for lang in LANGUAGES}
