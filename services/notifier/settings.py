"""The notifier's settings: the shared fragments plus how fast, how often and how patiently it sends."""

from __future__ import annotations

from pydantic import AliasChoices, Field, model_validator

from shared.settings import ServiceSettings, SmtpSettings, TwilioSettings


class NotifierSettings(ServiceSettings, TwilioSettings, SmtpSettings):
    http_port: int = 8004
    health_port: int = 9104  # the worker's probes
    public_base_url: str = Field(
        default="http://127.0.0.1:8004",
        description="Base URL Twilio reaches the notifier at; status callbacks go to <this>/twilio/status.",
    )
    duty_line_number: str = Field(default="+3225013200", description=(
        "The duty line's SMS number (intake's): messages whose replies must reach intake go out from it."))
    voice_answer_url: str = Field(default="http://127.0.0.1:8001/twilio/voice/welfare", description=(
        "Where a call's key press goes: intake's welfare answer webhook (its public URL)."))
    call_ring_seconds: int = Field(default=30, ge=5, le=600, description="How long a call rings before no-answer.")
    sms_rate_per_second: float = Field(default=50.0, ge=0,
                                       description="Messages per second per sender number; 0: no limit.")
    email_rate_per_second: float = Field(default=50.0, ge=0, description="0: no limit.")
    send_concurrency: int = Field(default=32, ge=1, le=2000, description="Provider calls in flight at once.")
    send_timeout_seconds: float = Field(default=10.0, gt=0, description="Past this an answer is ambiguous.")
    send_attempts: int = Field(default=6, ge=1, description="Tries of one dispatch (429, 5xx, network).")
    max_dispatches: int = Field(default=5, ge=1, description=(
        "Dispatches of one message before it is failed, for failures of its own (a provider outage never counts)."))
    provider_outage_retry_seconds: float = Field(default=30.0, gt=0, description=(
        "When the provider itself fails (429, 5xx, 401/403, unreachable; SMTP 421 or authentication) without a "
        "Retry-After, how long its circuit stays open the first time (doubling with each failure in a row); "
        "messages wait, uncounted: none is failed for it."))
    provider_outage_max_seconds: float = Field(default=120.0, gt=0, description=(
        "The longest the circuit stays open at once (a longer Retry-After is cut to this): how soon a provider "
        "that came back is tried again."))
    retry_base_seconds: float = Field(default=0.25, gt=0)
    retry_max_seconds: float = Field(default=20.0, gt=0)
    claim_batch: int = Field(default=200, ge=1)
    heartbeat_seconds: float = Field(default=2.0, gt=0)
    dead_after_seconds: float = Field(
        default=40.0, gt=0,
        description="A sender silent this long is taken for dead and its reserved messages are reconciled. A sender "
                    "stops sending once its heartbeat is dead_after/3 late, so keep dead_after/3*2 > send timeout.")
    command_consumers: int = Field(default=3, ge=1, le=6, description="Consumers of notifications.commands.")
    command_batch: int = Field(default=500, ge=1, le=5000, description=(
        "Commands polled at once and stored in one transaction (one multi-row insert); 1: one transaction each."))
    smtp_timeout_seconds: float = 10.0
    max_per_number_per_hour: int = Field(
        default=10, ge=0, le=10000,
        validation_alias=AliasChoices("notifier_max_per_number_per_hour", "max_per_number_per_hour"),
        description=("NOTIFIER_MAX_PER_NUMBER_PER_HOUR: SMS to one number in any hour (carriers filter beyond a few); "
                     "more wait, `throttled`, until the number has room. 0: no limit."))
    message_body_retention_days: float = Field(
        default=30.0, ge=0, description="Days after a message's final status its texts are removed (docs/privacy.md).")
    retention_interval_seconds: float = Field(default=3600.0, gt=0, description="How often the retention job runs.")

    @model_validator(mode="after")
    def _fencing_holds(self) -> NotifierSettings:
        if self.dead_after_seconds * 2 / 3 <= self.send_timeout_seconds + self.heartbeat_seconds:
            raise ValueError("DEAD_AFTER_SECONDS must exceed 1.5 x (SEND_TIMEOUT_SECONDS + HEARTBEAT_SECONDS)")
        return self

    @property
    def schema_name(self) -> str:
        return self.database_schema or "notifier"

    @property
    def status_callback_url(self) -> str:
        return self.public_base_url.rstrip("/") + "/twilio/status"
