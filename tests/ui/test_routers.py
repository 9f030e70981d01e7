"""The dashboard's and the console's routers without a browser: sign-in, tokens, assets, the notifier pass-through."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from services.crisis_center.dashboard.router import DashboardSettings, dashboard_router
from services.intake.console.router import ConsoleSettings, console_router
from shared import passwords, sign_in
from shared.auth import JwtConfig, verify_token
from shared.http import install_common
from shared.settings import AuthSettings
from shared.sign_in import SignInThrottle
from tests.support import auth, free_port

FAST = 1_000  # PBKDF2 iterations for tests: the stored iteration count is honoured on verification


def users(**credentials: str) -> str:
    return ",".join(f"{name}:{passwords.hash_password(pw, iterations=FAST)}" for name, pw in credentials.items())


def app_with(router_factory: object) -> FastAPI:
    app = FastAPI()
    install_common(app, service="ui-test", auth=AuthSettings(jwt_secret=os.environ["JWT_SECRET"]))  # type: ignore[call-arg]
    app.include_router(router_factory)  # type: ignore[arg-type]
    return app


@pytest.fixture
async def dashboard() -> AsyncIterator[httpx.AsyncClient]:
    settings = DashboardSettings(dashboard_users=users(anna="correct horse"),
                                 notifier_url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    app = app_with(dashboard_router(settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ui.test") as client:
        yield client


@pytest.fixture
async def console() -> AsyncIterator[httpx.AsyncClient]:
    known = passwords.parse_users(users(omar="night shift"))

    async def accounts(_: object, login: str) -> str | None:  # the officers table, in the app
        return known.get(login)

    app = app_with(console_router(ConsoleSettings(), accounts))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ui.test") as client:
        yield client


def jwt_config() -> JwtConfig:
    return JwtConfig(os.environ["JWT_SECRET"], "be.diplomatie.consular", "consular-platform")


# passwords -------------------------------------------------------------------------------------------------------
def test_hash_verifies_only_its_own_password() -> None:
    encoded = passwords.hash_password("s3cret", iterations=FAST)
    assert passwords.verify_password("s3cret", encoded)
    assert not passwords.verify_password("s3cret ", encoded)
    assert not passwords.verify_password("s3cret", encoded.replace(".", "$", 1))
    assert encoded != passwords.hash_password("s3cret", iterations=FAST)  # salted
    assert not any(c in encoded for c in "$:,")


def test_malformed_hashes_never_match() -> None:
    for broken in ["", "pbkdf2_sha256", "pbkdf2_sha256.x.y.z", "pbkdf2_sha256.10.!!.??", "md5.1.a.b"]:
        assert not passwords.verify_password("anything", broken)


def test_users_setting_is_parsed_and_bad_entries_named() -> None:
    parsed = passwords.parse_users(" " + users(anna="a", ben="b") + ", ")
    assert sorted(parsed) == ["anna", "ben"]
    assert passwords.verify_password("b", parsed["ben"]) and not passwords.verify_password("a", parsed["ben"])
    with pytest.raises(passwords.InvalidUsers, match="entry 2 \\(carl\\)"):
        passwords.parse_users(users(anna="a") + ",carl:plaintext")
    with pytest.raises(passwords.InvalidUsers, match="anna is listed twice"):
        passwords.parse_users(users(anna="a") + "," + users(anna="b"))
    assert passwords.parse_users("") == {}


def test_empty_password_cannot_be_hashed() -> None:
    with pytest.raises(ValueError):
        passwords.hash_password("")


# dashboard -------------------------------------------------------------------------------------------------------
async def test_dashboard_sign_in_mints_a_coordinator_token(dashboard: httpx.AsyncClient) -> None:
    response = await dashboard.post("/dashboard/login", json={"username": "anna", "password": "correct horse"})
    assert response.status_code == 200
    body = response.json()
    principal = verify_token(jwt_config(), body["access_token"])
    assert principal.subject == "anna" and principal.roles == frozenset({"coordinator"})
    wrong = await dashboard.post("/dashboard/login", json={"username": "anna", "password": "Correct horse"})
    unknown = await dashboard.post("/dashboard/login", json={"username": "bob", "password": "correct horse"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()  # no hint which of the two was wrong
    empty = await dashboard.post("/dashboard/login", json={"username": "", "password": "x"})
    assert empty.status_code == 422 and empty.json()["detail"][0]["field"] == "username"


async def test_sign_in_is_refused_when_no_user_is_configured() -> None:
    app = app_with(dashboard_router(DashboardSettings(dashboard_users="")))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ui.test") as client:
        response = await client.post("/dashboard/login", json={"username": "anna", "password": "x"})
    assert response.status_code == 503 and "DASHBOARD_USERS" in response.json()["detail"]
    assert response.headers["retry-after"] == "3600"  # documented on every 503


async def test_failed_sign_ins_are_throttled_per_name_and_client_and_checked_off_the_loop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 19, finding 8: no limit on guessing, and PBKDF2 ran on the event loop (ten sign-ins a second stalled
    the whole API)."""
    now = [1000.0]
    throttle = SignInThrottle(failures_per_name=3, failures_per_client=5, window_seconds=60, clock=lambda: now[0])
    threads: list[int] = []
    real = sign_in.verify_password

    def recording(password: str, encoded: str) -> bool:
        threads.append(threading.get_ident())
        return real(password, encoded)

    monkeypatch.setattr(sign_in, "verify_password", recording)
    app = app_with(dashboard_router(DashboardSettings(dashboard_users=users(anna="correct horse", ben="b")),
                                    throttle=throttle))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ui.test") as client:
        async def sign_in_as(name: str, password: str) -> httpx.Response:
            return await client.post("/dashboard/login", json={"username": name, "password": password})

        assert [(await sign_in_as("anna", "guess")).status_code for _ in range(3)] == [401, 401, 401]
        blocked = await sign_in_as("anna", "correct horse")
        assert blocked.status_code == 429 and 1 <= int(blocked.headers["Retry-After"]) <= 61, "even the right one"
        assert (await sign_in_as("ben", "b")).status_code == 200, "another name from the same client still may"
        assert [(await sign_in_as("ben", "guess")).status_code for _ in range(2)] == [401, 401]
        assert (await sign_in_as("carl", "x")).status_code == 429, "the client's own limit (5 failures)"
        now[0] += 61
        assert (await sign_in_as("anna", "correct horse")).status_code == 200, "the window has passed"
    assert threads and threading.get_ident() not in threads, "every hash checked in a worker thread"


def test_a_malformed_users_setting_fails_at_start() -> None:
    with pytest.raises(passwords.InvalidUsers):
        dashboard_router(DashboardSettings(dashboard_users="anna:plain"))


async def test_page_and_assets_are_served_from_this_origin_only(dashboard: httpx.AsyncClient) -> None:
    page = await dashboard.get("/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for asset in ["dashboard.js", "map.js", "i18n.js", "vendor/d3-geo.min.js", "data/countries-50m.json"]:
        response = await dashboard.get(f"/dashboard/assets/{asset}")
        assert response.status_code == 200, asset
    assert (await dashboard.get("/dashboard/assets/data/countries-50m.json")).json()["type"] == "Topology"
    for escape in ["../router.py", "..%2F..%2Frouter.py", "%2Fetc%2Fpasswd", "../../dashboard/router.py"]:
        assert (await dashboard.get(f"/dashboard/assets/{escape}")).status_code == 404, escape


async def test_delivery_progress_needs_a_coordinator_and_reports_an_unreachable_notifier(
        dashboard: httpx.AsyncClient) -> None:
    path = "/dashboard/api/notifications?crisis_id=c-1"
    assert (await dashboard.get(path)).status_code == 401
    assert (await dashboard.get(path, headers=auth("duty_officer"))).status_code == 403
    response = await dashboard.get(path, headers=auth("coordinator"))
    assert response.status_code == 502 and "notifier" in response.json()["detail"]
    documented = (await dashboard.get("/openapi.json")).json()["paths"]["/dashboard/api/notifications"]["get"]
    assert documented["responses"]["502"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorDetail"}


# console ---------------------------------------------------------------------------------------------------------
async def test_console_sign_in_mints_a_duty_officer_token(console: httpx.AsyncClient) -> None:
    response = await console.post("/console/login", json={"username": "omar", "password": "night shift"})
    assert response.status_code == 200
    principal = verify_token(jwt_config(), response.json()["access_token"])
    assert principal.roles == frozenset({"duty_officer"}) and principal.subject == "omar"
    assert (await console.post("/console/login", json={"username": "omar", "password": "day"})).status_code == 401
    assert (await console.post("/console/login", json={"username": "nobody", "password": "night shift"})
            ).status_code == 401
    for _ in range(4):  # five failures for omar in all: the console's sign-in is throttled too
        await console.post("/console/login", json={"username": "omar", "password": "day"})
    throttled = await console.post("/console/login", json={"username": "omar", "password": "night shift"})
    assert throttled.status_code == 429 and "Retry-After" in throttled.headers


async def test_console_page_and_assets(console: httpx.AsyncClient) -> None:
    page = await console.get("/console")
    assert page.status_code == 200 and 'id="report-form"' in page.text
    assert (await console.get("/console/assets/console.js")).status_code == 200
    assert (await console.get("/console/assets/../router.py")).status_code == 404


# the demo scenario's data ------------------------------------------------------------------------------------------
def test_demo_travellers_are_placed_inside_and_outside_the_area() -> None:
    from datetime import UTC, datetime

    from services.crisis_center.dashboard.demo import KATHMANDU, RADIUS_KM, Plan, incident, travellers
    from shared.geo import Point, great_circle_km

    now = datetime.now(UTC)
    people = travellers("t", Plan(travellers=200, inside_share=0.8, seed=3), now)
    assert len({p.traveller_id for p in people}) == 200 and len({p.phone for p in people}) == 200
    centre = Point(lat=KATHMANDU[0], lon=KATHMANDU[1])
    distances = [great_circle_km(centre, Point(lat=p.location.lat, lon=p.location.lon))  # type: ignore[union-attr]
                 for p in people]
    assert sum(d <= RADIUS_KM for d in distances) == 160
    assert all(p.arrival <= now.date() < p.departure for p in people)
    assert incident("t", now).area.circle is not None  # type: ignore[union-attr]
