"""What shared/openapi.py and shared/http.py make every document say, against what the common routes send."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from starlette.requests import Request

from shared.auth import local_signing_config
from shared.http import READINESS_SCHEMA, install_common
from shared.openapi import (
    NO_DATABASE,
    RETRY_AFTER_HEADER,
    TWILIO_CALLBACK_RESPONSES,
    TWILIO_WEBHOOK_RESPONSES,
    complete_document,
)
from shared.settings import AuthSettings


def document(*operations: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"paths": {path: {"get": operation} for path, operation in operations}}


def test_a_json_body_beside_an_html_page_gets_its_schema() -> None:
    schema = document(("/page/{id}", {"parameters": [{"name": "id"}], "responses": {
        "422": {"description": "the form again (HTML), or a field out of bounds (JSON)",
                "content": {"text/html": {}, "application/json": {}}}}}))
    complete_document(schema, secured=[], unavailable=False)
    content = schema["paths"]["/page/{id}"]["get"]["responses"]["422"]["content"]
    assert content == {"text/html": {}, "application/json": {"schema": {"$ref": "#/components/schemas/FieldErrors"}}}


def test_an_operation_without_the_database_gets_no_503_of_the_database() -> None:
    schema = document(("/probe", {"responses": {"200": {}}, **NO_DATABASE}), ("/data", {"responses": {"200": {}}}))
    complete_document(schema, secured=[], unavailable=True)
    assert "503" not in schema["paths"]["/probe"]["get"]["responses"]
    assert "x-no-database" not in schema["paths"]["/probe"]["get"]
    assert schema["paths"]["/data"]["get"]["responses"]["503"]["headers"]["Retry-After"] == RETRY_AFTER_HEADER


def test_twilio_webhooks_document_twiml_and_a_refusal_with_its_body() -> None:
    for responses in (TWILIO_WEBHOOK_RESPONSES, TWILIO_CALLBACK_RESPONSES):
        assert responses[403]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorDetail"}
    assert list(TWILIO_WEBHOOK_RESPONSES[200]["content"]) == ["text/xml"]
    assert "content" not in TWILIO_CALLBACK_RESPONSES[204]


def probed_app(ready: bool) -> FastAPI:
    async def readiness() -> dict[str, bool]:
        return {"database": ready, "kafka": True}

    app = FastAPI()
    install_common(app, service="probe-test", readiness=readiness,
                   auth=AuthSettings(jwt_secret=os.environ["JWT_SECRET"]))  # type: ignore[call-arg]
    return app


async def test_the_probes_send_what_their_document_says() -> None:
    app = probed_app(ready=False)
    paths = app.openapi()["paths"]
    readyz = paths["/readyz"]["get"]["responses"]
    assert readyz["503"]["content"]["application/json"]["schema"] == READINESS_SCHEMA
    assert readyz["200"]["content"]["application/json"]["schema"] == READINESS_SCHEMA
    assert "Retry-After" in readyz["503"]["headers"]
    # the probes never touch the database: no 503 of a database that is down (the app installs that handler)
    assert "503" not in paths["/healthz"]["get"]["responses"] and "503" not in paths["/metrics"]["get"]["responses"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe.test") as client:
        down = await client.get("/readyz")
    assert down.status_code == 503 and down.json() == {"ready": False, "checks": {"database": False, "kafka": True}}
    assert down.headers["retry-after"].isdigit()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=probed_app(ready=True)),
                                 base_url="http://probe.test") as client:
        up = await client.get("/readyz")
    assert up.status_code == 200 and up.json()["ready"] is True and "retry-after" not in up.headers


def test_password_sign_in_refused_in_oidc_mode_says_when_to_ask_again() -> None:
    app = FastAPI()  # no local signing key: what install_verifier leaves in oidc mode
    with pytest.raises(HTTPException) as refused:
        local_signing_config(Request({"type": "http", "app": app, "headers": []}))
    assert refused.value.status_code == 503 and (refused.value.headers or {})["Retry-After"].isdigit()
