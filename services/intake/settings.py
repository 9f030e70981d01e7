"""Intake's settings, composed from the shared fragments; built at the entry point and passed down."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from services.intake.domain.voice import OfficeHours
from shared.crypto import FieldCipher
from shared.settings import ServiceSettings, TwilioSettings, refuse_placeholder

SOURCE = "/services/intake"


class Settings(ServiceSettings, TwilioSettings):
    http_port: int = 8001
    health_port: int = 9101  # the worker's probes
    public_base_url: str = Field(default="http://127.0.0.1:8001",
                                 description="Base URL Twilio calls our webhooks at (signatures are computed on it).")
    database_schema: str = "intake"
    pfif_domain: str = Field(default="diplomatie.belgium.be", pattern=r"^[A-Za-z0-9.-]+$",
                             description="The domain our PFIF record ids start with (`<domain>/...`).")
    pfif_source_name: str = Field(default="FPS Foreign Affairs, Belgium", max_length=200,
                                  description="The organisation named as source and author of our PFIF records.")
    pfif_max_bytes: int = Field(default=5_000_000, ge=10_000, description="The largest PFIF document accepted.")
    consular_line: str = Field(default="+3225013200", description="The consular line dialled in office hours.")
    office_hours: str = Field(default="mon-fri 09:00-17:00", description=(
        "When emergency calls go to the consular line (Europe/Brussels; Belgian holidays closed), e.g. "
        "'mon-thu 09:00-17:00; fri 09:00-16:00'; outside them, to the on-call roster."))
    check_in_per_hour: int = Field(default=5, ge=1, le=1000, description=(
        "Check-ins by SMS one number may send in an hour during a crisis (more get the hotline instead)."))
    check_in_stay_days: int = Field(default=14, ge=1, le=90, description=(
        "How long a check-in's registration lasts (its departure date), unless the crisis closes first."))
    complex_reply_days: int = Field(default=60, ge=15, le=365,
                                    description="Expected delay a provisional reply announces for complex cases.")
    survey_link_base: str = Field(default="", description=(
        "Where the survey email's link points, followed by the token; empty: intake's own page, "
        "PUBLIC_BASE_URL + /public/survey."))
    officer_cache_seconds: float = Field(default=5.0, ge=0,
                                         description="How long the officers and their open-case counts are cached.")
    staff_language: Literal["fr", "nl", "de", "en"] = Field(
        default="en", description="Language of the deadline warnings sent to officers.")
    team_lead_email: str | None = Field(
        default=None, description="Warned too when a charter deadline is missed (TEAM_LEAD_EMAIL); none: nobody.")
    inbound_smtp_port: int = Field(default=0, ge=0, le=65535, description=(
        "Port of the consular inbox's SMTP receiver in the worker (the ministry's relay forwards to it); 0: off."))
    inbound_smtp_host: str = Field(default="127.0.0.1", description="Address the inbox's receiver listens on.")
    inbound_email_address: str = Field(default="consular@diplomatie.example", description=(
        "The inbox's address: mail to any other is refused."))
    deadline_poll_seconds: float = Field(default=30.0, gt=0, description="Longest sleep of the deadline scheduler.")
    dial_timeout_seconds: int = 20
    source: str = SOURCE
    console_token_ttl_seconds: int = Field(default=12 * 3600, ge=60, le=24 * 3600)
    # --- personal data (docs/privacy.md) ---
    intake_field_keys: SecretStr = Field(
        description="Keys of the encrypted fields: 'kid:<base64 of 32 bytes>,...'; every key decrypts.")
    intake_field_key_active: str = Field(default="", description="The kid that encrypts; empty: the first key.")
    traveller_retention_days: int = Field(default=14, ge=0,
                                          description="Days after the declared departure a registration is removed.")
    idempotency_key_days: int = Field(default=7, ge=1, description=(
        "Days an Idempotency-Key keeps answering with the same report; older keys are forgotten."))
    families_retention_days: int = Field(default=90, ge=1, description=(
        "Days a welfare answer and an imported PFIF record are kept for the families' inquiries."))
    case_retention_days: int = Field(default=5 * 365, ge=1, description="Days after closing a case is anonymised.")
    detention_retention_days: int = Field(default=10 * 365, ge=1,
                                          description="Days after closing a detention case is anonymised.")
    missing_person_retention_days: int = Field(
        default=10 * 365, ge=1, description="Days after closing a missing-person case is anonymised.")
    retention_interval_seconds: float = Field(default=3600.0, gt=0, description="How often the retention job runs.")

    @field_validator("office_hours")
    @classmethod
    def _office_hours(cls, value: str) -> str:
        OfficeHours.parse(value)  # raises naming the part it cannot read
        return value

    @field_validator("intake_field_keys")
    @classmethod
    def _field_keys_real(cls, value: SecretStr) -> SecretStr:
        refuse_placeholder("INTAKE_FIELD_KEYS", value)
        FieldCipher.from_config(value.get_secret_value())  # raises naming the format
        return value

    @model_validator(mode="after")
    def _active_key_known(self) -> Settings:
        self.field_cipher()
        return self

    def field_cipher(self) -> FieldCipher:
        cipher = FieldCipher.from_config(self.intake_field_keys.get_secret_value())
        active = self.intake_field_key_active.strip()
        if active and active not in cipher.keys:
            raise ValueError("INTAKE_FIELD_KEY_ACTIVE names no key of INTAKE_FIELD_KEYS")
        return FieldCipher(keys=cipher.keys, current=active or cipher.current)

    @property
    def db_schema(self) -> str:
        return self.database_schema or "intake"
