"""Welfare answers ("are you safe?") by SMS, by a key on the welfare call or through the crisis center (an email's
link), and check-ins by SMS during an active crisis (`SAFE Pokhara`): each published as `welfare.answered`; a
needs-help answer opens (or joins) the person's case for the crisis.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from services.intake import families
from services.intake.adapters import repository
from services.intake.adapters.officer_cache import OfficerCache
from services.intake.domain import texts
from services.intake.domain.check_in import CheckInText, crises_with_areas, locate, parse_check_in
from services.intake.domain.model import Channel, Kind, Language, ReportIn
from services.intake.domain.welfare import WelfareAnswer, read_answer, words
from services.intake.handlers import UNKNOWN_NAME, IntakeConfig
from services.intake.opening import open_case
from services.intake.travellers import country_of
from shared.events.envelope import CloudEvent
from shared.events.travellers import TravellerRegistered
from shared.events.welfare import CHECK_IN_PREFIX, AnswerChannel, WelfareAnswered, WelfareAsked, WelfareReplied
from shared.gazetteer import Gazetteer
from shared.kafka.outbox import enqueue
from shared.logging import get_logger

log = get_logger(__name__)

_WELFARE_NAMESPACE = uuid.UUID("c3a1f9e2-6b7d-4c58-8e0f-7a2b9d4e1c36")


async def sms_welfare_answer(conn: asyncpg.Connection, question: dict[str, Any], *, body: str,
                             provider_id: str | None, sender: str, officers: OfficerCache,
                             config: IntakeConfig) -> str:
    """An SMS to a number with an open welfare question, read as its answer; returns the reply text."""
    language = Language(question["language"])
    answer = read_answer(body)
    at = datetime.now(UTC)
    reference = await answer_welfare(
        conn, crisis_id=question["crisis_id"], check_id=question["check_id"], person_id=question["person_id"],
        answer=answer, channel="sms", text=body, language=language, phone=sender, email=question["email"],
        crisis_title=question["crisis_title"], at=at, officers=officers, config=config, provider_id=provider_id,
        event_id=str(uuid.uuid5(_WELFARE_NAMESPACE, provider_id or f"{sender}|{at.isoformat()}")))
    hotline = question["hotline_number"]
    if answer == "safe":
        return texts.render(texts.WELFARE_SAFE, language, hotline=hotline)
    if answer == "needs_help":
        return texts.render(texts.WELFARE_HELP, language, reference=reference, hotline=hotline)
    return texts.render(texts.WELFARE_UNCLEAR, language, hotline=hotline)


_GAZETTEER = Gazetteer()  # GeoNames cities, loaded on the first check-in
_CHECK_IN_NAMESPACE = uuid.UUID("e8b2c6d4-0f1a-4b3c-9d7e-5a6f8b9c0d21")
_PLACE_WAIT = timedelta(hours=1)


async def sms_check_in(conn: asyncpg.Connection, *, sender: str, body: str, provider_id: str | None,
                       officers: OfficerCache, config: IntakeConfig) -> str | None:
    """A check-in during an active crisis by someone not asked (`SAFE Pokhara`), or the place it was waiting for;
    None when the message is neither (it is then a report or a follow-up, as before)."""
    crises = crises_with_areas(await repository.crisis_areas(conn))
    if not crises:
        return None
    now = datetime.now(UTC)
    parsed = parse_check_in(body)
    if parsed is None:
        waiting = await repository.take_waiting_check_in(conn, sender, now - _PLACE_WAIT)
        if waiting is None:
            return None
        parsed = CheckInText(waiting["answer"], Language(waiting["language"]), " ".join(words(body)))
    language, hotline = parsed.language, crises[0].hotline_number
    if await repository.check_ins_in_the_last_hour(conn, sender, now) >= config.check_ins_per_hour:
        log.info("check_in_refused", reason="rate")
        return texts.render(texts.CHECK_IN_TOO_MANY, language, hotline=hotline)
    found = locate(parsed.place, crises, _GAZETTEER) if parsed.place else None
    if found is None:
        await repository.wait_for_place(conn, sender, answer=parsed.answer, language=language.value, at=now)
        log.info("check_in_waiting_for_place", known_place=bool(parsed.place))
        if parsed.place:
            return texts.render(texts.CHECK_IN_NOT_FOUND, language, place=parsed.place[:60])
        return texts.render(texts.CHECK_IN_WHERE, language)
    if found.crisis is None:
        log.info("check_in_outside")
        return texts.render(texts.CHECK_IN_OUTSIDE, language, place=found.place.title(), crisis=crises[0].title,
                            hotline=hotline)
    crisis = found.crisis
    person_id = await repository.registered_traveller_id(conn, sender)
    if person_id is None:  # counted like any registration: the crisis worker merges people by phone number
        person_id = CHECK_IN_PREFIX + str(uuid.uuid5(_CHECK_IN_NAMESPACE, sender))
        await enqueue(conn, TravellerRegistered(
            traveller_id=person_id, full_name=UNKNOWN_NAME, phone=sender, language=language.value,
            country=found.country, city=found.place.title(),
            location={"lat": found.point.lat, "lon": found.point.lon},  # type: ignore[arg-type]
            arrival=now.date(), departure=now.date() + timedelta(days=config.check_in_stay_days)),
            source=f"{config.source}/check-in", topic_prefix=config.topic_prefix)
    reference = await answer_welfare(
        conn, crisis_id=crisis.crisis_id, check_id=None, person_id=person_id, answer=parsed.answer, channel="sms",
        text=body, language=language, phone=sender, email=None, crisis_title=crisis.title, at=now,
        officers=officers, config=config, provider_id=provider_id,
        location={"country": found.country, "city": found.place.title(), "lat": found.point.lat,
                  "lon": found.point.lon},
        event_id=str(uuid.uuid5(_WELFARE_NAMESPACE, f"check-in:{provider_id or sender + now.isoformat()}")))
    log.info("check_in", crisis_id=crisis.crisis_id, answer=parsed.answer, reference=reference)
    if reference is not None:
        return texts.render(texts.WELFARE_HELP, language, reference=reference, hotline=crisis.hotline_number)
    return texts.render(texts.CHECK_IN_SAFE, language, crisis=crisis.title, hotline=crisis.hotline_number)


async def voice_welfare_answer(*, phone: str, digits: str, call_sid: str | None, pool: asyncpg.Pool,
                               officers: OfficerCache, config: IntakeConfig) -> tuple[str, Language] | None:
    """A key pressed on the welfare call to `phone`: the answer to its open question. Returns what to say, or
    None when the number has no open question (the crisis closed meanwhile)."""
    async with pool.acquire() as conn, conn.transaction():
        question = await repository.open_welfare_question(conn, phone, datetime.now(UTC))
        if question is None:
            return None
        language = Language(question["language"])
        key = digits.strip()[:1]
        answer: WelfareAnswer = "safe" if key == "1" else "needs_help" if key == "2" else "unclear"
        at = datetime.now(UTC)
        await answer_welfare(
            conn, crisis_id=question["crisis_id"], check_id=question["check_id"], person_id=question["person_id"],
            answer=answer, channel="voice", text=f"keypad {key}" if key else None, language=language, phone=phone,
            email=question["email"], crisis_title=question["crisis_title"], at=at, officers=officers, config=config,
            event_id=str(uuid.uuid5(_WELFARE_NAMESPACE, f"call:{call_sid or phone + at.isoformat()}:{key}")))
    spoken = {"safe": texts.VOICE_WELFARE_SAFE, "needs_help": texts.VOICE_WELFARE_HELP,
              "unclear": texts.VOICE_WELFARE_UNCLEAR}[answer]
    return texts.render(spoken, language), language


async def answer_welfare(conn: asyncpg.Connection, *, crisis_id: str, check_id: str | None, person_id: str,
                         answer: WelfareAnswer, channel: AnswerChannel, text: str | None, language: Language,
                         phone: str | None, email: str | None, crisis_title: str, at: datetime,
                         officers: OfficerCache, config: IntakeConfig, event_id: str,
                         provider_id: str | None = None, location: dict[str, Any] | None = None,
                         full_name: str | None = None) -> str | None:
    """Publish the answer; for needs_help first open the person's case for this crisis (one per person and
    crisis: a second help answer joins it). Returns the case reference, if any."""
    reference = None
    if answer == "needs_help":
        reference = await _welfare_case(conn, crisis_id=crisis_id, person_id=person_id, text=text, language=language,
                                        channel=channel, phone=phone, email=email, crisis_title=crisis_title, at=at,
                                        officers=officers, config=config, provider_id=provider_id,
                                        location=location, full_name=full_name)
    await families.heard_from(conn, person_id=person_id, crisis_id=crisis_id, answer=answer, channel=channel, at=at,
                              full_name=full_name, phone=phone, location=location, source=config.source,
                              topic_prefix=config.topic_prefix)
    await enqueue(conn, WelfareAnswered(crisis_id=crisis_id, person_id=person_id, answer=answer, channel=channel,
                                        text=text, case_reference=reference, at=at, check_id=check_id),
                  source=config.source, topic_prefix=config.topic_prefix, event_id=event_id)
    log.info("welfare_answer", crisis_id=crisis_id, answer=answer, channel=channel, reference=reference)
    return reference


async def _welfare_case(conn: asyncpg.Connection, *, crisis_id: str, person_id: str, text: str | None,
                        language: Language, channel: AnswerChannel, phone: str | None, email: str | None,
                        crisis_title: str, at: datetime, officers: OfficerCache, config: IntakeConfig,
                        provider_id: str | None, location: dict[str, Any] | None, full_name: str | None) -> str:
    source, external_id = f"{config.source}#welfare", f"{crisis_id}:{person_id}"
    existing = await repository.external_case(conn, source, external_id)
    if existing is not None:
        if provider_id is None or await repository.message_by_provider_id(conn, provider_id) is None:
            await repository.add_message(conn, reference=existing, direction="in", channel=_case_channel(channel),
                                         purpose="follow_up", body=text or "needs help (welfare check)",
                                         status="received", provider_id=provider_id)
            await repository.add_history_note(conn, existing, actor=f"welfare:{channel}",
                                              note="answered the welfare check again: needs help")
        return existing
    location = location or await repository.traveller_location(conn, person_id) or (
        {"country": country_of(phone)} if phone else {"country": "BE"})
    description = texts.render(texts.WELFARE_CASE_DESCRIPTION, language, crisis=crisis_title)
    if text:
        description += "\n\n" + text
    report = ReportIn.model_validate({
        "kind": Kind.SERIOUS_DIFFICULTY, "description": description[:10_000], "location": location,
        "reporter": {"full_name": (full_name or "").strip()[:200] or UNKNOWN_NAME, "phone": phone, "email": email,
                     "language": language,
                     "channel": _REPORT_CHANNEL[channel]}})
    opened = await open_case(conn, report, officers=officers, config=config, actor=f"welfare:{channel}",
                             received_at=at, source=source, external_id=external_id,
                             inbound=(_case_channel(channel), text, provider_id) if text else None,
                             note=f"opened by a needs-help answer to the welfare check of crisis {crisis_id}")
    await repository.link_case_to_crisis(conn, opened.reference, crisis_id)
    return opened.reference


# The case a help answer opens came in on the answer's channel (the acknowledgement follows it, domain/acknowledgement).
_REPORT_CHANNEL: dict[str, Channel] = {"sms": Channel.SMS, "voice": Channel.PHONE, "web": Channel.WEB,
                                       "email": Channel.EMAIL, "officer": Channel.PHONE}


def _case_channel(channel: AnswerChannel) -> str:
    return "sms" if channel == "sms" else "email" if channel in ("email", "web") else "phone"


async def welfare_asked(data: WelfareAsked, conn: asyncpg.Connection) -> None:
    """Remember the number's open question, so that its next SMS is read as the answer."""
    if data.phone is None:
        return
    await repository.welfare_asked(conn, phone=data.phone, crisis_id=data.crisis_id, check_id=data.check_id,
                                   person_id=data.person_id, language=data.language, crisis_title=data.crisis_title,
                                   hotline_number=data.hotline_number,
                                   email=str(data.email) if data.email else None, asked_at=data.asked_at,
                                   open_until=data.open_until)


async def welfare_replied(event: CloudEvent, data: WelfareReplied, conn: asyncpg.Connection, *,
                          officers: OfficerCache, config: IntakeConfig) -> None:
    """An answer the crisis center took itself (an email's link): published like an SMS answer."""
    crisis = await repository.crisis_facts(conn, data.crisis_id)
    await answer_welfare(conn, crisis_id=data.crisis_id, check_id=data.check_id, person_id=data.person_id,
                         answer=data.answer, channel=data.channel, text=None, language=Language(data.language),
                         phone=data.phone, email=str(data.email) if data.email else None,
                         crisis_title=crisis["title"] if crisis else data.crisis_id, at=data.at, officers=officers,
                         config=config, event_id=str(uuid.uuid5(_WELFARE_NAMESPACE, event.id)),
                         location=data.location.model_dump(mode="json", exclude_none=True) if data.location else None,
                         full_name=data.full_name)
