"""Closing a case: its clocks stop, its family inquiry closes, and the satisfaction survey goes out (SMS 1-5, else a
link by email).
"""

from __future__ import annotations

import secrets

import asyncpg

from services.intake import families
from services.intake.adapters import repository
from services.intake.adapters.officer_cache import OfficerCache
from services.intake.domain.acknowledgement import AckChannel, destination
from services.intake.domain.model import Language, Status
from services.intake.handlers import UNKNOWN_NAME, CaseNotFound, IntakeConfig
from services.intake.messages import send_case_message


async def close_case(reference: str, *, pool: asyncpg.Pool, officers: OfficerCache, config: IntakeConfig,
                     actor: str, note: str | None = None) -> None:
    """Close a case, stop its clocks, and send the satisfaction survey (SMS 1-5, else a link by email)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.report(conn, reference)
        if row is None:
            raise CaseNotFound(reference)
        if row["status"] == Status.CLOSED.value:
            return
        await repository.add_status(conn, reference, Status.CLOSED.value, actor=actor, note=note)
        await repository.cancel_deadlines(conn, reference)
        await families.close_inquiry(conn, reference, source=config.source, topic_prefix=config.topic_prefix)
        await conn.execute("UPDATE reports SET attention = NULL WHERE reference = $1", reference)
        officers.released(row["officer_id"])
        reporter = row["reporter"]
        phone, email = reporter.get("phone"), reporter.get("email")
        channel = AckChannel.SMS if phone else AckChannel.EMAIL if email else None
        if channel is None:
            return
        officer = await repository.officer(conn, row["officer_id"])
        assert officer is not None
        language = Language(row["language"])
        token = secrets.token_urlsafe(24)  # the survey page's capability: unguessable, one per case
        link = f"{config.survey_link_base.rstrip('/')}/{token}"
        if await repository.record_survey(conn, reference=reference, channel=channel.value, phone=phone,
                                          token=token):
            # `survey_request`: by SMS a question answered with a digit 1-5 (through /twilio/sms), by e-mail the link
            params = {"reference": reference, **({} if channel is AckChannel.SMS else {"survey_url": link})}
            await send_case_message(conn, reference=reference, purpose="survey", template="survey_request",
                                    to=destination(channel, language, phone=phone, email=email), params=params,
                                    officer=officer, recipient_name=reporter.get("full_name", UNKNOWN_NAME),
                                    config=config)
