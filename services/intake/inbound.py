"""Messages coming in on the public lines: an SMS (a welfare answer or check-in, STOP/START, a survey answer, a
follow-up, or a new case), an email to the consular inbox, a voicemail.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic import ValidationError

from services.intake.adapters import repository
from services.intake.adapters.officer_cache import OfficerCache
from services.intake.domain import texts
from services.intake.domain.model import Channel, Kind, Language, Reporter, ReportIn
from services.intake.domain.sms import appended_reply, classify, keyword_language, new_case_reply, quoted_reference
from services.intake.domain.survey import parse_answer
from services.intake.handlers import UNKNOWN_NAME, IntakeConfig
from services.intake.opening import open_case
from services.intake.travellers import country_of, whereabouts
from services.intake.welfare import sms_check_in, sms_welfare_answer
from shared.events.notifications import SmsPreference
from shared.kafka.outbox import enqueue
from shared.logging import get_logger
from shared.sms_keywords import Keyword
from shared.sms_keywords import classify as sms_keyword
from shared.sms_keywords import normalise as normalise_keyword

log = get_logger(__name__)

_PREFERENCE_NAMESPACE = uuid.UUID("9d3e51a2-7c44-4f0b-8a6e-2f5b1c0d7e93")


def _unknown_reporter_report(*, kind: Kind, phone: str, language: Language, channel: Channel,
                             country: str | dict[str, Any], description: str) -> ReportIn:
    """A report from a caller we only know by number. Twilio's `From` is E.164 already; a number `phonenumbers`
    does not know yet (a new range) is kept as Twilio gave it rather than losing the distress call."""
    location = country if isinstance(country, dict) else {"country": country}
    body = {"kind": kind, "description": description or "(empty message)", "location": location,
            "reporter": {"full_name": UNKNOWN_NAME, "phone": phone, "language": language, "channel": channel}}
    try:
        return ReportIn.model_validate(body)
    except ValidationError:
        reporter = Reporter.model_construct(full_name=UNKNOWN_NAME, phone=phone, email=None, address=None,
                                            language=language, channel=channel)
        return ReportIn.model_validate({**body, "reporter": reporter})


async def inbound_sms(*, sender: str, body: str, message_sid: str | None, from_country: str | None,
                      pool: asyncpg.Pool, officers: OfficerCache, config: IntakeConfig) -> str:
    """An SMS in: a survey answer, a message for the sender's open case, or a new case. Returns the reply text."""
    provider_id = f"twilio:{message_sid}" if message_sid else None
    async with pool.acquire() as conn, conn.transaction():
        question = await repository.open_welfare_question(conn, sender, datetime.now(UTC))
        if question is not None and sms_keyword(body) is None:
            # An answer to "are you safe?", never a new distress report; a retried webhook has no second effect
            # (the answer's event id and the case's message both derive from the MessageSid).
            return await sms_welfare_answer(conn, question, body=body, provider_id=provider_id, sender=sender,
                                            officers=officers, config=config)
        if provider_id:
            seen = await repository.message_by_provider_id(conn, provider_id)
            if seen is not None:  # Twilio retried the webhook: same answer, no second effect
                return _sms_reply(seen["purpose"], Language(seen["language"]), seen["reference"])
        keyword = sms_keyword(body)
        if keyword is not None:  # STOP or START: a preference for the notifier, never a case
            await enqueue(conn, SmsPreference(phone=sender, opted_out=keyword is Keyword.OPT_OUT,
                                              keyword=normalise_keyword(body), at=datetime.now(UTC)),
                          source=config.source, topic_prefix=config.topic_prefix,
                          event_id=str(uuid.uuid5(_PREFERENCE_NAMESPACE, provider_id or f"{sender}|{body}")))
            language = keyword_language(normalise_keyword(body))
            log.info("sms_preference", opted_out=keyword is Keyword.OPT_OUT)
            return texts.render(texts.SMS_OPTED_OUT if keyword is Keyword.OPT_OUT else texts.SMS_OPTED_IN, language)
        survey = await repository.pending_survey_for_phone(conn, sender)
        answer = parse_answer(body)
        if survey is not None and answer is not None:
            await repository.answer_survey(conn, survey["reference"], answer)
            await repository.add_message(conn, reference=survey["reference"], direction="in", channel="sms",
                                         purpose="survey_answer", body=body, status="received",
                                         provider_id=provider_id)
            return texts.render(texts.SURVEY_THANKS, Language(survey["language"]))
        check_in = await sms_check_in(conn, sender=sender, body=body, provider_id=provider_id, officers=officers,
                                      config=config)
        if check_in is not None:
            return check_in
        quoted = quoted_reference(body)
        case = await repository.case_for_follow_up(conn, quoted) if quoted else None
        if case is not None and case["reporter_phone"] != sender:
            # A follow-up quoting its case from another number (a relative, a new SIM): attached, and flagged.
            await repository.add_history_note(conn, case["reference"], actor="sms",
                                              note=f"follow-up quoting the reference from another number ({sender})")
        case = case or await repository.open_case_for_phone(conn, sender)
        if case is not None:
            await repository.add_message(conn, reference=case["reference"], direction="in", channel="sms",
                                         purpose="follow_up", body=body, status="received", provider_id=provider_id)
            return appended_reply(Language(case["language"]), case["reference"])
        found = classify(body)
        received_at = datetime.now(UTC)
        registered = await whereabouts(conn, sender, today=received_at.date())
        report = _unknown_reporter_report(kind=found.kind, phone=sender, language=found.language,
                                          channel=Channel.SMS, country=registered or country_of(sender, from_country),
                                          description=body)
        opened = await open_case(conn, report, officers=officers, config=config, actor="sms",
                                 received_at=received_at, inbound=("sms", body, provider_id),
                                 note="opened by SMS; located by the sender's registration" if registered
                                 else "opened by SMS; country inferred from the number")
        return new_case_reply(found.language, opened.reference)


async def inbound_email(*, sender: str, sender_name: str | None, subject: str, body: str, message_id: str | None,
                        pool: asyncpg.Pool, officers: OfficerCache, config: IntakeConfig) -> tuple[str, bool]:
    """An email to the consular inbox: joins the case its subject or text quotes, else the sender's open case, else
    opens one (the kind and language read from the words, as for an SMS). Returns (reference, opened)."""
    provider_id = f"email:{message_id}" if message_id else None
    text = f"{subject}\n\n{body}".strip()
    async with pool.acquire() as conn, conn.transaction():
        if provider_id:
            seen = await repository.message_by_provider_id(conn, provider_id)
            if seen is not None:  # the same message delivered twice
                return str(seen["reference"]), False
        quoted = quoted_reference(text)
        case = await repository.case_for_follow_up(conn, quoted) if quoted else None
        if case is None:
            case = await repository.open_case_for_email(conn, sender)
        if case is not None:
            await repository.add_message(conn, reference=case["reference"], direction="in", channel="email",
                                         purpose="follow_up", body=text, status="received", provider_id=provider_id)
            return str(case["reference"]), False
        found = classify(text)
        report = ReportIn.model_validate({
            "kind": found.kind, "description": text[:10_000] or "(empty message)", "location": {"country": "BE"},
            "reporter": {"full_name": (sender_name or "").strip()[:200] or UNKNOWN_NAME, "email": sender,
                         "language": found.language, "channel": Channel.EMAIL}})
        opened = await open_case(conn, report, officers=officers, config=config, actor="email",
                                 received_at=datetime.now(UTC), inbound=("email", text, provider_id),
                                 note="opened by email; the country is to be confirmed")
        return opened.reference, True


def _sms_reply(purpose: str | None, language: Language, reference: str) -> str:
    if purpose == "survey_answer":
        return texts.render(texts.SURVEY_THANKS, language)
    if purpose == "follow_up":
        return appended_reply(language, reference)
    return new_case_reply(language, reference)


async def voicemail(*, caller: str, recording_url: str, call_sid: str | None, language: Language,
                    from_country: str | None, pool: asyncpg.Pool, officers: OfficerCache,
                    config: IntakeConfig) -> str:
    """A voicemail left on the voice line opens a case (or joins the caller's open one); returns the reference."""
    provider_id = f"twilio:{call_sid}" if call_sid else None
    body = f"Voicemail: {recording_url}"
    async with pool.acquire() as conn, conn.transaction():
        if provider_id:
            seen = await repository.message_by_provider_id(conn, provider_id)
            if seen is not None:
                return str(seen["reference"])
        case = await repository.open_case_for_phone(conn, caller)
        if case is not None:
            await repository.add_message(conn, reference=case["reference"], direction="in", channel="voice",
                                         purpose="voicemail", body=body, status="received", provider_id=provider_id)
            return str(case["reference"])
        registered = await whereabouts(conn, caller, today=datetime.now(UTC).date())
        report = _unknown_reporter_report(kind=Kind.SERIOUS_DIFFICULTY, phone=caller, language=language,
                                          channel=Channel.PHONE, country=registered or country_of(caller, from_country),
                                          description=body)
        opened = await open_case(conn, report, officers=officers, config=config, actor="voice",
                                 received_at=datetime.now(UTC), inbound=("voice", body, provider_id),
                                 note="opened from a voicemail; country inferred from the number")
        return opened.reference
