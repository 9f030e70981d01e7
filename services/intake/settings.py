"""Intake's settings, composed from the shared fragments; built at the entry point and passed down."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings, TwilioSettings

SOURCE = "/services/intake"


class Settings(ServiceSettings, TwilioSettings):
    http_port: int = 8001
    health_port: int = 9101  # the worker's probes
    public_base_url: str = Field(default="http://127.0.0.1:8001",
                                 description="Base URL Twilio calls our webhooks at (signatures are computed on it).")
    database_schema: str = "intake"
    consular_line: str = Field(default="+3225018111", description="The consular line dialled in office hours.")
    complex_reply_days: int = Field(default=60, ge=15, le=365,
                                    description="Expected delay a provisional reply announces for complex cases.")
    survey_link_base: str = Field(default="https://diplomatie.example/survey",
                                  description="Survey page for email replies; the reference is appended.")
    officer_cache_seconds: float = Field(default=5.0, ge=0,
                                         description="How long the officers and their open-case counts are cached.")
    deadline_poll_seconds: float = Field(default=30.0, gt=0, description="Longest sleep of the deadline scheduler.")
    dial_timeout_seconds: int = 20
    source: str = SOURCE
    console_users: str = Field(default="", description="Console sign-in: 'name:hash' entries.")
    console_token_ttl_seconds: int = Field(default=12 * 3600, ge=60, le=24 * 3600)

    @property
    def db_schema(self) -> str:
        return self.database_schema or "intake"
