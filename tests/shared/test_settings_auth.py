"""Settings refuse missing or placeholder secrets; JWT auth admits the right roles only."""

from __future__ import annotations

import os
import time

import jwt
import pytest
from fastapi import Depends, FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError

from shared.auth import JwtConfig, Principal, mint_token, require_roles, verify_token
from shared.http import install_common
from shared.settings import AuthSettings, ServiceSettings, TwilioSettings

CONFIG = JwtConfig("unit-test-secret-0123456789abcdef-0123", "be.diplomatie.consular", "consular-platform")


@pytest.mark.parametrize("value", [None, "", "changeme", "CHANGE-ME", "<set me>", "placeholder", "too-short-1234"])
def test_a_missing_or_placeholder_jwt_secret_fails_naming_the_variable(monkeypatch, value) -> None:
    monkeypatch.delenv("JWT_SECRET", raising=False)
    if value is not None:
        monkeypatch.setenv("JWT_SECRET", value)
    with pytest.raises(ValidationError, match="(?i)jwt_secret"):
        AuthSettings()


def test_a_placeholder_twilio_token_fails_naming_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "changeme")
    with pytest.raises(ValidationError, match="TWILIO_AUTH_TOKEN"):
        TwilioSettings()


def test_settings_come_from_the_environment_and_hide_secrets(monkeypatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "a-real-secret-value-42-long-enough-for-hs256")
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", "t1.")
    settings = ServiceSettings()
    assert settings.topic("crisis.status") == "t1.crisis.status"
    assert "a-real-secret-value-42" not in repr(settings)
    assert settings.jwt_secret.get_secret_value().startswith("a-real-secret")


def test_tokens_verify_and_carry_roles() -> None:
    principal = verify_token(CONFIG, mint_token(CONFIG, subject="officer-7", roles=["duty_officer"]))
    assert principal == Principal("officer-7", frozenset({"duty_officer"}))
    with pytest.raises(ValueError, match="unknown roles"):
        mint_token(CONFIG, subject="x", roles=["superuser"])


def _app() -> FastAPI:
    app = FastAPI()
    install_common(app, service="unit", auth=AuthSettings(jwt_secret=CONFIG.secret))

    @app.get("/private")
    async def private(principal: Principal = Depends(require_roles("coordinator", "admin"))) -> dict[str, str]:
        return {"subject": principal.subject}

    return app


def _forged(claims: dict[str, object], secret: str = CONFIG.secret) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


async def test_every_kind_of_bad_token_is_refused_and_the_right_role_admitted() -> None:
    now = int(time.time())
    good_claims = {"sub": "c", "roles": ["coordinator"], "iss": CONFIG.issuer, "aud": CONFIG.audience,
                   "iat": now, "exp": now + 60}
    cases = {
        "missing": (None, 401),
        "malformed": ("not.a.jwt", 401),
        "expired": (_forged({**good_claims, "exp": now - 10}), 401),
        "bad signature": (_forged(good_claims, secret="another-secret-entirely-0123456789abcdef"), 401),
        "wrong audience": (_forged({**good_claims, "aud": "elsewhere"}), 401),
        "wrong role": (mint_token(CONFIG, subject="d", roles=["duty_officer"]), 403),
        "right role": (mint_token(CONFIG, subject="c", roles=["coordinator"]), 200),
    }
    async with AsyncClient(transport=ASGITransport(app=_app()), base_url="http://t") as client:
        for name, (token, expected) in cases.items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await client.get("/private", headers=headers)
            assert response.status_code == expected, name
        assert (await client.get("/healthz")).json()["status"] == "ok"
        assert (await client.get("/readyz")).status_code == 200
        metrics = await client.get("/metrics")
        assert "# TYPE http_requests_total counter" in metrics.text


def test_every_service_documents_the_token_claims_in_its_openapi(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An external system reading only /openapi.json learns the issuer, the audience and the required claims."""
    from services.crisis_center.api import create_app as crisis_app
    from services.crisis_center.settings import Settings as CrisisSettings
    from services.directory.api import create_app as directory_app
    from services.directory.settings import Settings as DirectorySettings
    from services.intake.api import create_app as intake_app
    from services.intake.settings import Settings as IntakeSettings
    from services.notifier.api import create_app as notifier_app
    from services.notifier.settings import NotifierSettings

    monkeypatch.setenv("JWT_ISSUER", "be.diplomatie.test-issuer")
    apps = [intake_app(IntakeSettings()), directory_app(DirectorySettings()), crisis_app(CrisisSettings()),
            notifier_app(NotifierSettings())]
    for app in apps:
        scheme = app.openapi()["components"]["securitySchemes"]["HTTPBearer"]
        assert scheme["x-jwt-issuer"] == "be.diplomatie.test-issuer", app.title
        assert scheme["x-jwt-audience"] == "consular-platform"
        assert set(scheme["x-jwt-required-claims"]) == {"iss", "aud", "sub", "exp", "roles"}
        assert "be.diplomatie.test-issuer" in scheme["description"] and scheme["bearerFormat"] == "JWT"


def test_the_token_command_names_issuer_and_audience(capsys) -> None:  # type: ignore[no-untyped-def]
    from shared.cli import main

    assert main(["token", "--role", "admin", "--subject", "ops"]) == 0
    captured = capsys.readouterr()
    assert "iss=be.diplomatie.consular" in captured.err and "aud=consular-platform" in captured.err
    token = captured.out.strip()
    assert token.count(".") == 2
    principal = verify_token(JwtConfig(os.environ["JWT_SECRET"], "be.diplomatie.consular", "consular-platform"),
                             token)
    assert principal.subject == "ops" and principal.roles == {"admin"}
