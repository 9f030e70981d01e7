"""AUTH_MODE=oidc against a real OpenID Connect provider: Keycloak (scripts/keycloak.sh, realm
infra/keycloak/consular-realm.json), its tokens from the client-credentials and password grants, its published keys.

The provider is started by `make test` before the rest of the set-up, in the background; the fixture waits for it
(or starts it, when the tests run alone). It skips only where no Java 21 or later is installed. The last tests are
pure: the roles path, the key set's refresh limit, the settings' refusals.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError

from shared.auth import IssuerUnavailable, JwksCache, OidcVerifier, Principal, claim_at, known_roles, require_roles
from shared.http import install_common
from shared.settings import AuthSettings

ROOT = Path(__file__).resolve().parents[2]
PORT = int(os.environ.get("KEYCLOAK_PORT", "8180"))
ISSUER = f"http://127.0.0.1:{PORT}/realms/consular"
TOKEN_URL = f"{ISSUER}/protocol/openid-connect/token"
ADMIN_URL = f"http://127.0.0.1:{PORT}/admin/realms/consular"


# --- the provider ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keycloak() -> str:
    """The local Keycloak's issuer URL, once it answers: started here if `make test` did not launch it."""
    started = time.monotonic()
    result = subprocess.run([str(ROOT / "scripts" / "keycloak.sh"), "start"], capture_output=True, text=True,
                            timeout=420, check=False)
    if result.returncode != 0 and "Java 21 or later is required" in result.stderr:
        pytest.skip("Keycloak 26 needs Java 21 or later, and none is installed (set KEYCLOAK_JAVA_HOME)")
    assert result.returncode == 0, f"scripts/keycloak.sh start failed:\n{result.stdout}\n{result.stderr}"
    print(f"keycloak ready after {time.monotonic() - started:.1f} s here; {result.stdout.strip()}")
    return ISSUER


def _secret(client_id: str) -> str:
    return f"local-test-secret-{client_id}"  # the realm's published test values


def client_token(client_id: str) -> str:
    response = httpx.post(TOKEN_URL, data={"grant_type": "client_credentials", "client_id": client_id,
                                           "client_secret": _secret(client_id)}, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def password_token(client_id: str, username: str) -> str:
    response = httpx.post(TOKEN_URL, data={"grant_type": "password", "client_id": client_id,
                                           "client_secret": _secret(client_id), "username": username,
                                           "password": f"local-test-password-{username}"}, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def oidc_settings(**overrides: Any) -> AuthSettings:
    values: dict[str, Any] = {"jwt_secret": os.environ["JWT_SECRET"], "auth_mode": "oidc", "oidc_issuer": ISSUER,
                              **overrides}
    return AuthSettings(**values)


def oidc_app(service: str = "crisis_center", **overrides: Any) -> FastAPI:
    """An app as every service builds it (install_common), with one coordinator-or-admin route."""
    app = FastAPI()
    install_common(app, service=service, auth=oidc_settings(**overrides))

    @app.get("/private")
    async def private(principal: Principal = Depends(require_roles("coordinator", "admin"))) -> dict[str, Any]:
        return {"subject": principal.subject, "roles": sorted(principal.roles)}

    return app


def keys_of(app: FastAPI) -> JwksCache:
    verifier = app.state.token_verifier
    assert isinstance(verifier, OidcVerifier)
    return verifier.keys


@contextlib.asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        yield client


async def status_of(client: AsyncClient, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return (await client.get("/private", headers=headers)).status_code


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload)), signature


def forged(header: dict[str, Any], claims: dict[str, Any], sign: Any = None) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = b64(sign(signing_input.encode())) if sign is not None else ""
    return f"{signing_input}.{signature}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- tokens from the provider, accepted and refused ---------------------------------------------------------------

async def test_the_providers_tokens_are_admitted_by_role_and_audience(keycloak: str) -> None:
    crisis = oidc_app("crisis_center")
    intake = oidc_app("intake")
    # Every token first: Keycloak makes its ES256 key when it first signs with it, and a key made after this app's
    # first fetch would wait for the next refresh (30 s), as a rotation does.
    service_account = client_token("consular-test-coordinator")
    es256 = client_token("consular-test-es256")
    person = password_token("consular-dashboard", "coordinator")
    duty_officer = password_token("consular-dashboard", "duty.officer")
    admin = password_token("consular-dashboard", "admin")
    for_intake = password_token("consular-console", "coordinator")
    _, claims, _ = parts(person)
    assert "consular-crisis-center" in claims["aud"] and "coordinator" in claims["roles"]
    async with client_of(crisis) as client:
        answer = await client.get("/private", headers={"Authorization": f"Bearer {service_account}"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["roles"] == ["coordinator"]  # Keycloak's default-roles-consular, offline_access: ignored
        assert await status_of(client, person) == 200
        assert await status_of(client, duty_officer) == 403
        assert await status_of(client, admin) == 200
        assert await status_of(client, es256) == 200
        # A coordinator's token for intake (the console's audience) is not one for the crisis center ...
        assert await status_of(client, for_intake) == 401
        assert await status_of(client, None) == 401
    async with client_of(intake) as client:  # ... but it is one for intake; the crisis center's is not
        assert await status_of(client, for_intake) == 200
        assert await status_of(client, service_account) == 401
    assert keys_of(crisis).fetches == 1  # every key was in the first fetch


async def test_es256_only_where_configured_and_roles_from_a_dotted_path(keycloak: str) -> None:
    es256 = client_token("consular-test-es256")
    assert parts(es256)[0]["alg"] == "ES256"
    async with client_of(oidc_app(oidc_algorithms="RS256")) as client:
        assert await status_of(client, es256) == 401
    # Keycloak without the top-level `roles` mapper: its own realm_access.roles claim, reached by a dotted path.
    async with client_of(oidc_app(oidc_roles_claim="realm_access.roles")) as client:
        assert await status_of(client, client_token("consular-test-coordinator")) == 200
        assert await status_of(client, password_token("consular-dashboard", "duty.officer")) == 403


async def test_forged_tampered_expired_and_long_lived_tokens_get_401(keycloak: str) -> None:
    app = oidc_app(oidc_leeway_seconds=0)
    good = client_token("consular-test-coordinator")
    header, claims, signature = parts(good)
    short = client_token("consular-test-short-lived")
    long_lived = client_token("consular-test-long-lived")
    assert parts(long_lived)[1]["exp"] - parts(long_lived)[1]["iat"] == 7200
    async with client_of(app) as client:
        assert await status_of(client, good) == 200
        public_pem = keys_of(app)._keys[header["kid"]].key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        secret = os.environ["JWT_SECRET"].encode()
        hs256 = {"alg": "HS256", "typ": "JWT"}
        middle = len(signature) // 2
        cases = {
            # HS256 with the services' local secret, and with the provider's public key (algorithm confusion).
            "hs256 with JWT_SECRET": jwt.encode(claims, secret, algorithm="HS256"),
            "hs256 with the public key": forged({**hs256, "kid": header["kid"]}, claims,
                                                lambda m: hmac.new(public_pem, m, hashlib.sha256).digest()),
            "alg none": forged({"alg": "none", "typ": "JWT", "kid": header["kid"]}, claims),
            "tampered signature": good[: good.rindex(".") + 1] + signature[:middle]
            + ("A" if signature[middle] != "A" else "B") + signature[middle + 1:],
            "tampered roles": ".".join([good.split(".")[0], b64(json.dumps({**claims, "roles": ["admin"]}).encode()),
                                        signature]),
            "too long-lived": long_lived,
            "malformed": "not.a.jwt",
        }
        for name, token in cases.items():
            assert await status_of(client, token) == 401, name
        await asyncio.sleep(max(0.0, parts(short)[1]["exp"] - time.time()) + 1.1)
        answer = await client.get("/private", headers={"Authorization": f"Bearer {short}"})
        assert (answer.status_code, answer.json()["detail"]) == (401, "token expired")
    async with client_of(oidc_app(oidc_max_token_seconds=7200)) as client:  # the lifetime rule, nothing else
        assert await status_of(client, long_lived) == 200


async def test_a_key_rotation_costs_one_fetch_and_made_up_key_ids_none(keycloak: str) -> None:
    app = oidc_app()
    async with client_of(app) as client:
        assert await status_of(client, client_token("consular-test-coordinator")) == 200
        assert keys_of(app).fetches == 1
        # Made-up key ids (a token signed with a key of our own): refused, and within the refresh interval they
        # cost the provider nothing, however many.
        own = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        claims = parts(client_token("consular-test-coordinator"))[1]
        for _ in range(50):
            token = jwt.encode(claims, own, algorithm="RS256", headers={"kid": uuid.uuid4().hex})
            assert await status_of(client, token) == 401
        assert keys_of(app).fetches == 1

        # The provider rotates: a new signing key, preferred to the old one.
        admin = {"Authorization": f"Bearer {client_token('consular-test-realm-admin')}"}
        async with AsyncClient(timeout=30) as http:
            realm_id = (await http.get(ADMIN_URL, headers=admin)).json()["id"]
            created = await http.post(f"{ADMIN_URL}/components", headers=admin, json={
                "name": f"rotation-{uuid.uuid4().hex[:8]}", "providerId": "rsa-generated",
                "providerType": "org.keycloak.keys.KeyProvider", "parentId": realm_id,
                "config": {"priority": ["1000"], "keySize": ["2048"], "active": ["true"], "enabled": ["true"],
                           "algorithm": ["RS256"]}})
            assert created.status_code == 201, created.text
            component = created.headers["location"].rsplit("/", 1)[1]
            try:
                rotated = client_token("consular-test-coordinator")
                assert parts(rotated)[0]["kid"] not in keys_of(app)._keys
                keys_of(app).refresh_seconds = 0  # the last fetch was just now: let the rotation be seen at once
                assert await status_of(client, rotated) == 200
                assert keys_of(app).fetches == 2
                assert await status_of(client, rotated) == 200
                assert keys_of(app).fetches == 2
            finally:
                await http.delete(f"{ADMIN_URL}/components/{component}", headers=admin)


async def test_a_provider_that_cannot_be_reached_gives_503_for_keys_not_cached(keycloak: str) -> None:
    token = client_token("consular-test-coordinator")
    dead = f"http://127.0.0.1:{free_port()}/realms/consular/protocol/openid-connect/certs"
    async with client_of(oidc_app(oidc_jwks_uri=dead, oidc_http_timeout_seconds=2)) as client:
        answer = await client.get("/private", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 503 and answer.headers["retry-after"], answer.text
        assert "identity provider" in answer.json()["detail"]
        assert await status_of(client, token) == 503  # within the refresh interval: no new attempt, still 503

    # Through a relay that then goes down: the cached key keeps working; a key not cached gets 503.
    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", PORT)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    app = oidc_app(oidc_jwks_uri=f"http://127.0.0.1:{port}/realms/consular/protocol/openid-connect/certs",
                   oidc_jwks_refresh_seconds=0)
    async with client_of(app) as client:
        assert await status_of(client, token) == 200
        server.close()
        await server.wait_closed()
        assert await status_of(client, token) == 200
        own = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        unknown = jwt.encode(parts(token)[1], own, algorithm="RS256", headers={"kid": "not-cached"})
        assert await status_of(client, unknown) == 503
        assert keys_of(app).fetches == 2


async def test_password_sign_in_is_refused_with_a_pointer_to_the_provider_in_oidc_mode(
        keycloak: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.crisis_center.api import create_app as crisis_app
    from services.crisis_center.settings import Settings as CrisisSettings
    from services.intake.api import create_app as intake_app
    from services.intake.settings import Settings as IntakeSettings
    from shared.cli import main

    monkeypatch.setenv("AUTH_MODE", "oidc")
    monkeypatch.setenv("OIDC_ISSUER", ISSUER)
    body = {"username": "coordinator", "password": "coordinator-local"}
    for app, path, audience in ((crisis_app(CrisisSettings()), "/dashboard/login", "consular-crisis-center"),
                                (intake_app(IntakeSettings()), "/console/login", "consular-intake")):
        async with client_of(app) as client:
            answer = await client.post(path, json=body)
            assert answer.status_code == 503 and "identity provider" in answer.json()["detail"], path
            assert answer.headers["retry-after"] == "3600", path  # documented on every 503
            assert ISSUER in answer.json()["detail"]
        scheme = app.openapi()["components"]["securitySchemes"]["HTTPBearer"]
        assert (scheme["x-jwt-issuer"], scheme["x-jwt-audience"]) == (ISSUER, audience)
        assert "iat" in scheme["x-jwt-required-claims"] and "HS256" not in scheme["x-jwt-algorithms"]
    assert main(["token", "--role", "admin"]) == 2


# --- pure: the roles path, the key set's refresh limit, the settings ---------------------------------------------

def test_roles_come_from_a_claim_or_a_dotted_path_and_unknown_roles_are_ignored() -> None:
    claims = {"roles": ["coordinator", "superuser"], "realm_access": {"roles": ["admin", "offline_access"]},
              "https://ministry.example/roles": ["duty_officer"]}
    assert known_roles(claim_at(claims, "roles")) == {"coordinator"}
    assert known_roles(claim_at(claims, "realm_access.roles")) == {"admin"}
    assert known_roles(claim_at(claims, "https://ministry.example/roles")) == {"duty_officer"}
    with pytest.raises(jwt.MissingRequiredClaimError):
        claim_at(claims, "resource_access.consular.roles")
    for bad in ("coordinator", [1, 2], {"roles": []}, None):
        with pytest.raises(jwt.InvalidTokenError):
            known_roles(bad)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _jwks(*kids: str) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    numbers = key.public_numbers()
    as_b64 = lambda n: b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))  # noqa: E731
    return {"keys": [{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": as_b64(numbers.n),
                      "e": as_b64(numbers.e)} for kid in kids]
            + [{"kty": "RSA", "kid": "enc", "use": "enc", "alg": "RSA-OAEP", "n": as_b64(numbers.n), "e": "AQAB"}]}


async def test_unknown_key_ids_refresh_the_key_set_at_most_once_per_interval() -> None:
    clock = FakeClock()
    published = {"document": _jwks("k1")}
    failing = {"now": False}

    async def fetch(url: str) -> Any:
        if failing["now"]:
            raise IssuerUnavailable("down")
        return published["document"]

    cache = JwksCache(issuer="https://idp.example/realms/x", jwks_uri="https://idp.example/certs",
                      refresh_seconds=30, max_age_seconds=3600, clock=clock, fetch=fetch)
    assert (await cache.key("k1")).algorithm_name == "RS256"
    with pytest.raises(jwt.InvalidTokenError):
        await cache.key("enc")  # encryption keys never verify
    for _ in range(100):
        with pytest.raises(jwt.InvalidTokenError):
            await cache.key(uuid.uuid4().hex)
    assert cache.fetches == 1
    published["document"] = _jwks("k1", "k2")  # rotation
    with pytest.raises(jwt.InvalidTokenError):
        await cache.key("k2")  # within the interval: not fetched yet
    clock.now += 30
    await cache.key("k2")
    assert cache.fetches == 2
    # The provider down: a cached key still verifies (even once stale), an unknown one is 503, at most once per
    # interval asked again.
    failing["now"] = True
    clock.now += 30
    with pytest.raises(IssuerUnavailable):
        await cache.key("k3")
    with pytest.raises(IssuerUnavailable):
        await cache.key("k4")
    assert cache.fetches == 3
    clock.now += 3600
    await cache.key("k1")
    assert cache.fetches == 4
    # Concurrent requests for one new key: one fetch.
    failing["now"] = False
    published["document"] = _jwks("k5")
    clock.now += 30
    await asyncio.gather(*(cache.key("k5") for _ in range(20)))
    assert cache.fetches == 5
    with pytest.raises(jwt.InvalidTokenError):
        await cache.key("k1")  # dropped by the provider: dropped here


@pytest.mark.parametrize(("overrides", "message"), [
    ({}, "OIDC_ISSUER"),
    ({"oidc_issuer": "http://idp.ministry.example/realms/x"}, "https"),
    ({"oidc_issuer": "https://idp.example/r", "oidc_algorithms": "RS256,HS256"}, "HS256"),
    ({"oidc_issuer": "https://idp.example/r", "oidc_algorithms": "none"}, "none"),
    ({"oidc_issuer": "https://idp.example/r", "oidc_algorithms": ""}, "empty"),
    ({"oidc_issuer": "https://idp.example/r", "oidc_max_token_seconds": 10 ** 6}, "oidc_max_token_seconds"),
])
def test_oidc_settings_refuse_what_would_weaken_them(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AuthSettings(jwt_secret=os.environ["JWT_SECRET"], auth_mode="oidc", **overrides)


def test_the_local_mode_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_MODE", raising=False)
    assert AuthSettings(jwt_secret=os.environ["JWT_SECRET"]).auth_mode == "local"


@pytest.fixture(autouse=True)
def _no_stray_auth_mode(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AUTH_MODE", "OIDC_ISSUER", "OIDC_AUDIENCE", "OIDC_ALGORITHMS", "OIDC_JWKS_URI"):
        monkeypatch.delenv(name, raising=False)
    yield
