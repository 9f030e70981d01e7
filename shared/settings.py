"""Settings fragments (pydantic-settings). Each service composes one `Settings` class from these.

Secrets are `SecretStr` and must be set: a missing, empty or placeholder value fails at start with a message
naming the variable. `config/local.env` holds the values for local use (loaded by the Makefile). With
`CONSULAR_ENV=production` (set by the generated manifests) a secret committed in this repository (config/local.env's,
the tests' and benchmarks' fixed ones) is refused as well: it is public, so it protects nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"", "changeme", "change-me", "change_me", "placeholder", "secret", "xxx", "todo", "replace-me"}


def url_is_secure(url: str) -> bool:
    """https, or http on this machine's loopback (the local test provider)."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"})


def refuse_placeholder(name: str, value: SecretStr) -> SecretStr:
    raw = value.get_secret_value().strip()
    if raw.lower() in PLACEHOLDERS or raw.startswith("<"):
        raise ValueError(f"{name} is unset or a placeholder: set a real secret in the environment")
    return value


#: SHA-256 of every secret committed in this repository, whole and by part (`a,b` entries and the part after `name:`
#: in each, as in INTAKE_FIELD_KEYS and DASHBOARD_USERS). Digests, so that the image does not carry the values.
#: tests/shared/test_settings_committed_secrets.py checks that config/local.env's secrets are all here.
COMMITTED_SECRET_DIGESTS = frozenset({
    # config/local.env: JWT_SECRET, TWILIO_AUTH_TOKEN
    "abd509c1a563e205bd837ff2a68d70e2ee63d12ec82d4e66ac7446a45d074e13",
    "6fc4e5e9b56652590adaa31526ac6a7bcb7f78ad3b8f383d92c81c74a304e754",
    # config/local.env: INTAKE_FIELD_KEYS (whole, the key's material)
    "66fa2d6ab740f26b4598fa39c9e64ad003a6b111148cdf600ea8b98fc37a118f",
    "7c731395df01600649e7ac1ea24ba1985d0bfdd473e5fc11c911e92abfb9cd64",
    # config/local.env: DASHBOARD_USERS (whole, the hash)
    "102100d32f68009f8daa8896d9a4ff774ec05d1d6e8dbf45975d7569097fc9b8",
    "15eb3fb332c0dcc22da0989933b9a3dea76826ecbb041ab4a5979ff63bfba9e1",
    # the tests' and benchmarks' fixed secrets (JWT, Kafka SASL, SMTP, Twilio, Keycloak admin, forged tokens)
    "c5c359769013eab7a6fa9e6daa99958d414b9227e299972347832216e4732bd8",
    "638474fee973f2a7bfd86758f1d55139254667425c05c3352847a9b7aa10fbb2",
    "52cf2a11aca568b297b578eea18dd5b037ed62880226f8d21647fd76cf0b36de",
    "7b7950e2b83458238aab6982317441433d02b7623905be17ad68eeea96d719fa",
    "980061b57e53c2de71a544b88d868652220a5f638b654459743bc497df202f9e",
    "2dfeef058f962d5829a12395010f66df3d3e854b9d20d725153df34524e9de84",
    "88aaf3b8ff928ee2814ae849980f48514ea9ac116985710a425bae8aa9bf0545",
    "4c5dc9b7708905f77f5e5d16316b5dfb425e68cb326dcd55a860e90a7707031e",
    "386b3827fee3410cae7debb414118d9aefe509a2028ce10477e02baff5ad7114",
    "f15dca8ec444d000bc67148f849af51b20d29b6ec1a368ac15cca0cbd958d32b",
    "84e6049b9a3a2ae02dda445f4c394ab28a256bf24f3a9cd11f835bb1408a0bb7",
    "77210af2f1758a49f5d167d60dd8404361f27d652d269625cc88309f2f0080b1",
    "695cbbc3539cac3cb1263e5f61039cfd2afc3cbb4d39e9f58d31ba0e24c29e96",
    "ccf01fa7b2cbbed796b7523a49e1a6836473c640a81838e788065dcee94278de",
})


def _secret_parts(raw: str) -> Iterator[str]:
    """The value, each comma-separated entry, and each entry's part after `name:` (a key's material, a hash)."""
    yield raw
    for entry in raw.split(","):
        yield entry.strip()
        _, colon, material = entry.partition(":")
        if colon:
            yield material.strip()


def is_committed_secret(raw: str) -> bool:
    """Whether `raw`, or a part of it, is a secret committed in this repository."""
    return any(hashlib.sha256(part.encode()).hexdigest() in COMMITTED_SECRET_DIGESTS
               for part in _secret_parts(raw.strip()) if part)


class BaseServiceSettings(BaseSettings):
    # hide_input_in_errors: a refused secret is named, never printed.
    model_config = SettingsConfigDict(extra="ignore", env_file=None, case_sensitive=False, hide_input_in_errors=True)

    consular_env: Literal["local", "production"] = Field(
        default="local", description="local: development and tests (the committed secrets of config/local.env are "
                                     "accepted); production (the manifests): a committed secret is refused at start.")

    @model_validator(mode="after")
    def _no_committed_secret_in_production(self) -> BaseServiceSettings:
        if self.consular_env == "local":
            return self
        for name, value in self:
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            if isinstance(raw, str) and raw and is_committed_secret(raw):
                raise ValueError(f"{name.upper()} is a secret committed in the repository (config/local.env or the "
                                 "tests): CONSULAR_ENV=production needs a secret of its own")
        return self


class KafkaSecuritySettings(BaseServiceSettings):
    """How a client proves itself to Kafka (docs/deploy.md, "Kafka security"): PLAINTEXT for the local broker;
    SASL_SSL with SCRAM-SHA-512 and the cluster CA in Kubernetes (each service its own Strimzi KafkaUser).
    Every client is built with `shared.kafka.security.client_security(settings)`."""

    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = Field(default=None, description="The service's KafkaUser (SASL_*).")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="Its password (the user's Secret).")
    kafka_ssl_cafile: str | None = Field(default=None, description="CA bundle the brokers' certificates chain to "
                                                                   "(SSL, SASL_SSL), or a folder of *.crt; empty: "
                                                                   "the system's CAs.")

    @model_validator(mode="after")
    def _kafka_credentials(self) -> KafkaSecuritySettings:
        if self.kafka_security_protocol.startswith("SASL_"):
            if not self.kafka_sasl_username or self.kafka_sasl_password is None:
                raise ValueError(f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs KAFKA_SASL_USERNAME "
                                 "and KAFKA_SASL_PASSWORD")
            refuse_placeholder("KAFKA_SASL_PASSWORD", self.kafka_sasl_password)
            if self.kafka_security_protocol == "SASL_PLAINTEXT" and self.kafka_sasl_mechanism == "PLAIN":
                raise ValueError("SASL PLAIN without TLS would send the password in clear: use SASL_SSL or SCRAM")
        return self


class KafkaSettings(KafkaSecuritySettings):
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = Field(default="", description="Prefix for every topic name (tests isolate with it).")


class DatabaseSettings(BaseServiceSettings):
    database_url: str = "postgresql://consular@127.0.0.1:5433/consular"
    database_schema: str = Field(default="", description="The service's schema; empty means the service's name.")
    database_pool_min: int = 2
    database_pool_max: int = 10


#: Asymmetric signatures only: an HS* token would mean a key shared with every verifier, `none` no signature.
OIDC_ALLOWED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
                                     "EdDSA"})


class AuthSettings(BaseServiceSettings):
    """Who signs the bearer tokens. `local` (development, `make run`, the tests): HS256 with `JWT_SECRET`, minted by
    the console's and dashboard's password sign-in or `make token`. `oidc` (production): tokens from the ministry's
    OpenID Connect provider, verified against its published keys (docs/deploy.md, "Production sign-in").

    `JWT_SECRET` is required in both modes: the crisis center also keys its welfare links and check-in codes with it.
    """

    auth_mode: Literal["local", "oidc"] = Field(
        default="local", description="local: HS256 tokens with JWT_SECRET (development); oidc: the provider's.")
    jwt_secret: SecretStr
    jwt_issuer: str = "be.diplomatie.consular"
    jwt_audience: str = "consular-platform"
    oidc_issuer: str = Field(default="", description="The provider's issuer URL (AUTH_MODE=oidc): the tokens' `iss`; "
                                                     "discovery at <issuer>/.well-known/openid-configuration.")
    oidc_audience: str = Field(default="", description="This service's audience; empty: consular-<service>.")
    oidc_algorithms: str = Field(default="RS256,ES256", description="Accepted signature algorithms, comma-separated.")
    oidc_max_token_seconds: int = Field(default=3600, ge=60, le=24 * 3600,
                                        description="Longest accepted token lifetime (exp - iat; iat required).")
    oidc_roles_claim: str = Field(default="roles", description="Claim with the roles; a dotted path such as "
                                                               "realm_access.roles reaches into an object.")
    oidc_jwks_uri: str = Field(default="", description="The key set's URL; empty: the discovery document's jwks_uri.")
    oidc_jwks_refresh_seconds: float = Field(default=30.0, ge=0, le=3600,
                                             description="At most one key set fetch per this many seconds.")
    oidc_http_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300, description="Clock skew allowed on exp, iat and nbf.")

    @model_validator(mode="after")
    def _oidc_complete(self) -> AuthSettings:
        if self.auth_mode != "oidc":
            return self
        if not self.oidc_issuer:
            raise ValueError("AUTH_MODE=oidc needs OIDC_ISSUER, the provider's issuer URL")
        for name, url in (("OIDC_ISSUER", self.oidc_issuer), ("OIDC_JWKS_URI", self.oidc_jwks_uri)):
            if url and not url_is_secure(url):
                raise ValueError(f"{name} must be an https URL (http only on 127.0.0.1 or localhost): {url}")
        algorithms = self.oidc_algorithm_list()
        refused = set(algorithms) - OIDC_ALLOWED_ALGORITHMS
        if refused or not algorithms:
            raise ValueError(f"OIDC_ALGORITHMS may only name asymmetric algorithms "
                             f"({', '.join(sorted(OIDC_ALLOWED_ALGORITHMS))}); refused: {sorted(refused) or 'empty'}")
        return self

    def oidc_algorithm_list(self) -> list[str]:
        return [a.strip() for a in self.oidc_algorithms.split(",") if a.strip()]

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
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop", description="The process's event loop: uvloop (libuv, faster sockets and callbacks; "
                                      "measured in docs/benchmarks.md) or Python's own, to rule uvloop out.")


class ProcessSettings(HttpSettings, DatabaseSettings, KafkaSettings):
    """What every service's process needs to run (shared/runner.py): HTTP or probes, database, Kafka."""


class ServiceSettings(ProcessSettings, AuthSettings):
    """What every service with an API needs: HTTP, auth, database, Kafka."""

    def topic(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}{name}"
