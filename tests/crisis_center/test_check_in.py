"""The public check-in page on the real database and broker: the form, the one-time code (sent through the
notifier's command), its confirmation counting the person once, and every refusal (outside the area, unknown
place, wrong, reused or expired code, too many tries or check-ins)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx

from tests.crisis_center.conftest import Clock, Env, new_crisis
from tests.crisis_center.test_welfare import COORDINATOR
from tests.support import consume_events

CODE = re.compile(r'name="check_in_id" value="([0-9a-f]+)"')


def form(**changes: str) -> dict[str, str]:
    return {"full_name": "Anna Peeters", "phone": "0470 12 34 56", "email": "", "language": "nl",
            "place": "Thamel, Kathmandu", "lat": "", "lon": "", "companions": "2", "answer": "safe", **changes}


async def start(client: httpx.AsyncClient, crisis_id: str, **changes: str) -> httpx.Response:
    return await client.post(f"/public/crises/{crisis_id}/check-in", data=form(**changes))


async def code_for(env: Env, check_in_id: str) -> dict[str, Any]:
    commands = await consume_events(env.topic("notifications.commands"), count=50, timeout=3)
    [command] = [c.data for c in commands if check_in_id in c.data["purpose"]]
    return dict(command)


async def verify(client: httpx.AsyncClient, crisis_id: str, check_in_id: str, code: str) -> httpx.Response:
    return await client.post(f"/public/crises/{crisis_id}/check-in/verify",
                             data={"check_in_id": check_in_id, "code": code})


async def test_the_form_in_each_language(client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock)
    page = await client.get(f"/public/crises/{crisis_id}/check-in", params={"lang": "fr"})
    assert page.status_code == 200 and "Où êtes-vous ?" in page.text and "Earthquake in Kathmandu" in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/public/check-in.js" defer>'], "no inline script"
    # the offline map: the area's outline and the towns in it, to tap on
    assert '<svg id="area-map"' in page.text and ">Kathmandu</text>" in page.text and "<path d=\"M" in page.text
    script = await client.get("/public/check-in.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "getCurrentPosition" in script.text and "innerHTML" not in script.text
    assert (await client.get("/public/crises/nope/check-in")).status_code == 404


async def test_a_confirmed_check_in_counts_the_person_once_and_sends_the_answer_on(
        client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock)
    started = await start(client, crisis_id, answer="needs_help")
    assert started.status_code == 200 and "We stuurden u een code" in started.text
    check_in_id = CODE.search(started.text).group(1)  # type: ignore[union-attr]
    command = await code_for(env, check_in_id)
    assert (command["channel"], command["recipient"]["phone"], command["template"], command["language"]) == (
        "sms", "+32470123456", "check_in_code", "nl")
    code = command["params"]["code"]
    assert re.fullmatch(r"\d{6}", code)
    assert await env.pool.fetchval("SELECT count(*) FROM check_ins WHERE code_hmac = $1", code.encode()) == 0, \
        "the code itself is not stored"

    wrong = await verify(client, crisis_id, check_in_id, "000000" if code != "000000" else "111111")
    assert wrong.status_code == 422 and "klopt niet" in wrong.text
    done = await verify(client, crisis_id, check_in_id, code)
    assert done.status_code == 200 and "Een medewerker neemt contact met u op" in done.text
    again = await verify(client, crisis_id, check_in_id, code)
    assert again.status_code == 200, "a second press of the same code changes nothing"

    contact = await env.pool.fetchrow("SELECT * FROM crisis_contacts WHERE crisis_id = $1 AND source = 'check_in'",
                                      crisis_id)
    assert (contact["phone"], contact["full_name"], contact["companions"], contact["language"]) == (
        "+32470123456", "Anna Peeters", 2, "nl")
    registered = await consume_events(env.topic("travellers.registrations"), count=2, timeout=5)
    assert len(registered) == 1 and registered[0].source == "/services/crisis_center/check-in"
    data = registered[0].data
    assert data["traveller_id"] == contact["person_id"] and data["phone"] == "+32470123456"
    assert data["country"] == "NP" and abs(data["location"]["lat"] - 27.7) < 0.2
    replies = await consume_events(env.topic("welfare.replies"), count=2, timeout=5)
    assert len(replies) == 1
    reply = replies[0].data
    assert (reply["person_id"], reply["answer"], reply["channel"], reply["check_id"], reply["full_name"]) == (
        contact["person_id"], "needs_help", "web", None, "Anna Peeters")
    counted = (await client.get(f"/v1/crises/{crisis_id}/welfare", headers=COORDINATOR)).json()
    assert counted["checked_in"] == 1


async def test_someone_already_counted_is_not_counted_again(client: httpx.AsyncClient, env: Env,
                                                            clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock)  # p1 is +32470000001
    started = await start(client, crisis_id, phone="+32 470 00 00 01")
    check_in_id = CODE.search(started.text).group(1)  # type: ignore[union-attr]
    done = await verify(client, crisis_id, check_in_id, (await code_for(env, check_in_id))["params"]["code"])
    assert done.status_code == 200
    replies = await consume_events(env.topic("welfare.replies"), count=1)
    assert replies[0].data["person_id"] == "p1"
    assert await consume_events(env.topic("travellers.registrations"), count=1, timeout=3) == []
    assert await env.pool.fetchval("SELECT count(*) FROM crisis_contacts WHERE crisis_id = $1", crisis_id) == 3


async def test_outside_the_area_or_an_unknown_place_is_not_counted(client: httpx.AsyncClient, env: Env,
                                                                   clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock)
    outside = await start(client, crisis_id, place="Pokhara")
    assert outside.status_code == 200 and "buiten het crisisgebied" in outside.text
    unknown = await start(client, crisis_id, place="Atlantis")
    assert unknown.status_code == 422 and "vonden deze plaats niet" in unknown.text
    assert 'value="Atlantis"' in unknown.text, "the form comes back filled in"
    by_position = await start(client, crisis_id, place="", lat="27.70", lon="85.32")
    assert by_position.status_code == 200 and "code" in by_position.text
    assert await env.pool.fetchval("SELECT count(*) FROM check_ins") == 1
    for changes, message in (({"phone": "", "email": ""}, "gsm-nummer of een e-mailadres"),
                             ({"phone": "12"}, "nummer is niet geldig"), ({"full_name": " "}, "Geef uw naam")):
        refused = await start(client, crisis_id, **changes)
        assert refused.status_code == 422 and message in refused.text


async def test_codes_expire_and_allow_five_tries(client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock)
    first = CODE.search((await start(client, crisis_id)).text).group(1)  # type: ignore[union-attr]
    code = (await code_for(env, first))["params"]["code"]
    clock.at += timedelta(minutes=env.settings.check_in_code_minutes, seconds=1)
    assert (await verify(client, crisis_id, first, code)).status_code == 410
    second = CODE.search((await start(client, crisis_id, phone="+32470999888")).text).group(1)  # type: ignore[union-attr]
    code = (await code_for(env, second))["params"]["code"]
    bad = "000000" if code != "000000" else "111111"
    answers = [await verify(client, crisis_id, second, bad) for _ in range(5)]
    assert [answer.status_code for answer in answers] == [422, 422, 422, 422, 429]
    assert answers[-1].headers["retry-after"] == "60"  # documented on every 429: check in again
    assert (await verify(client, crisis_id, second, code)).status_code == 429, "the right code after five tries"
    # neither check-in was confirmed: nobody is counted, no answer goes on
    assert await env.pool.fetchval("SELECT count(*) FROM crisis_contacts WHERE source = 'check_in'") == 0
    assert await consume_events(env.topic("travellers.registrations"), count=1, timeout=2) == []
    assert await consume_events(env.topic("welfare.replies"), count=1, timeout=2) == []


async def test_check_ins_are_limited_per_phone_and_hour_and_email_only_gets_the_code_by_email(
        client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock)
    answers = [await start(client, crisis_id) for _ in range(6)]
    assert [answer.status_code for answer in answers] == [200] * 5 + [429]
    assert answers[-1].headers["retry-after"] == "3600"  # the check-ins of the last hour are counted
    assert "retry-after" not in answers[0].headers
    clock.at += timedelta(hours=1, minutes=1)
    # an hour later, an email only: the code goes by email
    by_mail = await client.post(f"/public/crises/{crisis_id}/check-in", data=form(phone="", email="Anna@Example.org"))
    assert by_mail.status_code == 200
    check_in_id = CODE.search(by_mail.text).group(1)  # type: ignore[union-attr]
    command = await code_for(env, check_in_id)
    assert command["channel"] == "email" and command["recipient"]["email"] == "Anna@example.org"


async def test_a_closed_crisis_takes_no_check_in(client: httpx.AsyncClient, env: Env, clock: Clock) -> None:
    crisis_id = await new_crisis(env, clock)
    check_in_id = CODE.search((await start(client, crisis_id)).text).group(1)  # type: ignore[union-attr]
    code = (await code_for(env, check_in_id))["params"]["code"]
    assert (await client.post(f"/v1/crises/{crisis_id}/close", headers=COORDINATOR)).status_code == 200
    assert (await client.get(f"/public/crises/{crisis_id}/check-in")).status_code == 410
    assert (await start(client, crisis_id)).status_code == 410
    assert (await verify(client, crisis_id, check_in_id, code)).status_code == 404, "its check-ins were deleted"
