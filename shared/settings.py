"""Settings fragments (pydantic-settings). Each service composes one `Settings` class from these.

Secrets are `SecretStr` and must be set: a missing, empty or placeholder value fails at start with a message
naming the variable. `config/local.env` holds the values for local use (loaded by the Makefile).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"", "changeme", "change-me", "change_me", "placeholder", "secret", "xxx", "todo", "replace-me"}


def refuse_placeholder(name: str, value: SecretStr) -> SecretStr:
    raw = value.get_secret_value().strip()
    if raw.lower() in PLACEHOLDERS or raw.startswith("<"):
        raise ValueError(f"{name} is unset or a placeholder: set a real secret in the environment")
    return value


class BaseServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_file=None, case_sensitive=False)


class KafkaSettings(BaseServiceSettings):
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = Field(default="", description="Prefix for every topic name (tests isolate with it).")


class DatabaseSettings(BaseServiceSettings):
    database_url: str = "postgresql://consular@127.0.0.1:5433/consular"
    database_schema: str = Field(default="", description="The service's schema; empty means the service's name.")
    database_pool_min: int = 2
    database_pool_max: int = 10


class AuthSettings(BaseServiceSettings):
    jwt_secret: SecretStr
    jwt_issuer: str = "be.diplomatie.consular"
    jwt_audience: str = "consular-platform"

    @field_validator("jwt_secret")
    @classmethod
    def _jwt_secret_real(cls, value: SecretStr) -> SecretStr:
        refuse_placeholder("JWT_SECRET", value)
        if len(value.get_secret_value()) < 32:
            raise ValueError("JWT_SECRET must be at least 32 characters (HS256 key length)")
        return value


class TwilioSettings(BaseServiceSettings):
    twilio_account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    twilio_auth_token: SecretStr
    twilio_api_base: str = "http://127.0.0.1:8090"
    twilio_from_number: str = "+3225010000"
    public_base_url: str = Field(default="http://127.0.0.1", description="Base URL Twilio calls our webhooks at.")

    @field_validator("twilio_auth_token")
    @classmethod
    def _token_real(cls, value: SecretStr) -> SecretStr:
        return refuse_placeholder("TWILIO_AUTH_TOKEN", value)


class SmtpSettings(BaseServiceSettings):
    """The mail relay. Credentials are only ever sent over TLS: `smtp_username` requires `starttls` or `tls`."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_sender: str = "noreply@diplomatie.example"
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="none", description="none (local sink only), starttls (submission, 587) or tls (implicit, 465).")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_ca_file: str | None = Field(default=None, description="CA bundle to verify the relay (private CA).")

    @model_validator(mode="after")
    def _credentials_need_tls(self) -> SmtpSettings:
        if self.smtp_username:
            if self.smtp_password is None:
                raise ValueError("SMTP_USERNAME is set without SMTP_PASSWORD")
            refuse_placeholder("SMTP_PASSWORD", self.smtp_password)
            if self.smtp_security == "none":
                raise ValueError("SMTP_USERNAME needs SMTP_SECURITY=starttls or tls: credentials never travel in clear")
        return self


class HttpSettings(BaseServiceSettings):
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    health_port: int = Field(default=9100, ge=0, le=65535,
                             description="The worker process's /healthz, /readyz and /metrics (0: any free port).")
    log_level: str = "INFO"


class ServiceSettings(HttpSettings, AuthSettings, DatabaseSettings, KafkaSettings):
    """What every service needs: HTTP, auth, database, Kafka."""

    def topic(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}{name}"
