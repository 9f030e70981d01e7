"""CONSULAR_ENV=production refuses every secret committed in the repository (issue 19, finding 12); local accepts
them, so that `make run` and the tests keep working with config/local.env."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.crisis_center.settings import Settings as CrisisSettings
from services.intake.settings import Settings as IntakeSettings
from services.notifier.settings import NotifierSettings
from shared.crypto import new_key_config
from shared.settings import KafkaSettings, SmtpSettings, is_committed_secret

LOCAL_ENV = Path(__file__).resolve().parents[2] / "config" / "local.env"
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|KEYS$|USERS$")
#: Fixed secrets the tests and benchmarks use as valid ones.
TEST_SECRETS = ("a-real-secret-value-42-long-enough-for-hs256", "unit-test-secret-0123456789abcdef-0123",
                "s3cret-from-strimzi", "local-only-password", "relay-password-for-tests", "bench-token-7c1d",
                "test-token")


def committed() -> dict[str, str]:
    """config/local.env's secret variables and their values."""
    pairs = (line.split("=", 1) for line in LOCAL_ENV.read_text().splitlines() if re.match(r"^[A-Z_]+=", line))
    return {name: value for name, value in pairs if SECRET_NAME.search(name)}


def own_secrets() -> dict[str, str]:
    """Fresh values, as production's Secrets would hold."""
    return {"JWT_SECRET": secrets.token_urlsafe(40), "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
            "INTAKE_FIELD_KEYS": new_key_config("prod-1"), "INTAKE_FIELD_KEY_ACTIVE": "prod-1",
            "DASHBOARD_USERS": f"anna:pbkdf2_sha256.260000.{secrets.token_urlsafe(16)}.{secrets.token_urlsafe(32)}"}


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("CONSULAR_ENV", "production")
    for name, value in own_secrets().items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_local_env_names_the_secrets_this_test_covers() -> None:
    assert {"JWT_SECRET", "TWILIO_AUTH_TOKEN", "INTAKE_FIELD_KEYS", "DASHBOARD_USERS"} <= committed().keys()


@pytest.mark.parametrize("name", sorted(committed()))
def test_production_refuses_each_committed_secret_naming_it_never_printing_it(production, name) -> None:
    value = committed()[name]
    production.setenv(name, value)
    if name == "INTAKE_FIELD_KEYS":
        production.setenv("INTAKE_FIELD_KEY_ACTIVE", value.split(":")[0])
    settings_class = CrisisSettings if name == "DASHBOARD_USERS" else IntakeSettings
    with pytest.raises(ValidationError) as refused:
        settings_class()
    message = str(refused.value)
    assert name in message and "committed in the repository" in message
    for part in re.split(r"[,:]", value):
        assert part not in message


def test_production_accepts_its_own_secrets_and_local_accepts_the_committed_ones(production) -> None:
    assert IntakeSettings().consular_env == "production"
    CrisisSettings()
    NotifierSettings()
    production.delenv("CONSULAR_ENV")
    for name, value in committed().items():
        production.setenv(name, value)
    production.setenv("INTAKE_FIELD_KEY_ACTIVE", committed()["INTAKE_FIELD_KEYS"].split(":")[0])
    assert IntakeSettings().consular_env == "local"
    CrisisSettings()


def test_a_committed_key_among_production_keys_or_a_committed_hash_under_another_name_is_refused(production) -> None:
    local_key = committed()["INTAKE_FIELD_KEYS"].split(":", 1)[1]
    production.setenv("INTAKE_FIELD_KEYS", f"{own_secrets()['INTAKE_FIELD_KEYS']},old:{local_key}")
    with pytest.raises(ValidationError, match="INTAKE_FIELD_KEYS is a secret committed"):
        IntakeSettings()
    local_hash = committed()["DASHBOARD_USERS"].split(":", 1)[1]
    production.setenv("DASHBOARD_USERS", f"someone-else:{local_hash}")
    with pytest.raises(ValidationError, match="DASHBOARD_USERS is a secret committed"):
        CrisisSettings()


@pytest.mark.parametrize("value", TEST_SECRETS)
def test_the_tests_fixed_secrets_are_refused_in_production(production, value) -> None:
    assert is_committed_secret(value)
    with pytest.raises(ValidationError, match="SMTP_PASSWORD is a secret committed"):
        SmtpSettings(consular_env="production", smtp_username="relay", smtp_password=value,  # type: ignore[arg-type]
                     smtp_security="starttls")
    with pytest.raises(ValidationError, match="KAFKA_SASL_PASSWORD is a secret committed"):
        KafkaSettings(consular_env="production", kafka_security_protocol="SASL_SSL",  # type: ignore[arg-type]
                      kafka_sasl_username="intake", kafka_sasl_password=value)


def test_an_unknown_environment_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("CONSULAR_ENV", "prod")
    with pytest.raises(ValidationError, match="(?i)consular_env"):
        KafkaSettings()


def test_the_manifests_run_every_service_in_production_mode() -> None:
    from deploy.gen import SERVICES, service_documents

    for service in SERVICES:
        config = next(d for d in service_documents(service) if d["kind"] == "ConfigMap")
        assert config["data"]["CONSULAR_ENV"] == "production", service.name
