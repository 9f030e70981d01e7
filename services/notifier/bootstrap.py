"""The composition root: builds the notifier's real adapters from its settings. Nothing is built at import."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.notifier.adapters.email import SmtpEmail, SmtpSecurity
from services.notifier.adapters.twilio_sms import TwilioSms
from services.notifier.handlers import Publisher
from services.notifier.settings import NotifierSettings
from shared.db import open_pool
from shared.notifications.rendering import Renderer


@dataclass
class Resources:
    pool: asyncpg.Pool
    renderer: Renderer
    publisher: Publisher


async def open_resources(settings: NotifierSettings, *, pool_max: int | None = None) -> Resources:
    pool = await open_pool(settings.database_url, settings.schema_name, min_size=settings.database_pool_min,
                           max_size=pool_max or settings.database_pool_max)
    return Resources(pool=pool, renderer=Renderer(), publisher=Publisher(settings.kafka_topic_prefix))


def make_sms(settings: NotifierSettings) -> TwilioSms:
    """Call inside the running loop (the twilio async client opens an aiohttp session)."""
    return TwilioSms(
        account_sid=settings.twilio_account_sid, auth_token=settings.twilio_auth_token.get_secret_value(),
        api_base=settings.twilio_api_base, from_number=settings.twilio_from_number,
        timeout=settings.send_timeout_seconds, pool_size=max(10, settings.send_concurrency),
    )


def make_email(settings: NotifierSettings) -> SmtpEmail:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password is not None else None
    security = SmtpSecurity(mode=settings.smtp_security, username=settings.smtp_username, password=password,
                            ca_file=settings.smtp_ca_file)
    return SmtpEmail(host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_sender,
                     timeout=settings.smtp_timeout_seconds, security=security)
