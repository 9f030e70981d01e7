"""Acceptance: an earthquake near Kathmandu through all four services on the real broker and database, the
local Twilio server and the SMTP sink."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from twilio.request_validator import RequestValidator

from shared.events.envelope import CloudEvent, decode
from shared.kafka.producer import make_producer, publish
from tests.e2e.scenario import SMS_MARKERS, digits, earthquake, personal_values, travellers
from tests.e2e.stack import HOTLINES, Stack, start_stack, stop_stack
from tests.support import auth, bootstrap, consume, eventually
from tests.support_logs import leaks_in_files, secret_values

pytestmark = pytest.mark.e2e
INSIDE, OUTSIDE, THRESHOLD = 200, 50, 100


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    stack = await start_stack({"CRISIS_THRESHOLD": str(THRESHOLD), "CRISIS_UPDATE_INTERVAL_SECONDS": "1"})
    yield stack
    await stop_stack(stack)


async def sent_sms(stack: Stack) -> list[dict]:  # type: ignore[type-arg]
    async with httpx.AsyncClient() as client:
        body = (await client.get(stack.url("twilio") + "/_dev/messages")).json()
    return body["messages"] if isinstance(body, dict) else body


async def sent_mail(stack: Stack) -> list[dict]:  # type: ignore[type-arg]
    async with httpx.AsyncClient() as client:
        body = (await client.get(stack.url("smtp_http") + "/messages")).json()
    return body["messages"] if isinstance(body, dict) else body


def signed(url: str, form: dict[str, str]) -> dict[str, str]:
    import os

    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    return {"X-Twilio-Signature": validator.compute_signature(url, form)}


async def test_earthquake_scenario(stack: Stack) -> None:
    run = uuid.uuid4().hex[:6]
    people = travellers(run, INSIDE, OUTSIDE)
    producer = make_producer(bootstrap(), client_id="e2e")
    await producer.start()
    try:
        incident = earthquake(f"quake-{run}")
        await publish(producer, incident, source="/tests/e2e/incidents", topic_prefix=stack.prefix)
        for person in people:
            await publish(producer, person.registration, source="/tests/e2e/travellers", topic_prefix=stack.prefix)
    finally:
        await producer.stop()

    coordinator = auth("coordinator")
    async with httpx.AsyncClient(timeout=10) as client:
        # Exactly one crisis, with a hotline from the pool.
        async def one_crisis() -> list[dict] | None:  # type: ignore[type-arg]
            crises = (await client.get(stack.url("crisis_center") + "/v1/crises", headers=coordinator)).json()
            return crises if crises else None

        crises = await eventually(one_crisis, timeout=120)
        assert len(crises) == 1
        crisis = crises[0]
        assert crisis["hotline_number"] in HOTLINES.split(",")
        assert crisis["incident_id"] == incident.incident_id
        hotline = crisis["hotline_number"]

        # Exactly one message to each of the 200 inside, in their language, with the hotline; none outside.
        inside = {p.address: p for p in people if p.inside}
        outside = {p.address for p in people if not p.inside}

        async def all_delivered() -> tuple[list[dict], list[dict]] | None:  # type: ignore[type-arg]
            sms, mail = await sent_sms(stack), await sent_mail(stack)
            reached = {m["to"] for m in sms} | {t for m in mail for t in m.get("to", m.get("rcpt_tos", []))}
            return (sms, mail) if set(inside) <= reached else None

        sms, mail = await eventually(all_delivered, timeout=240, interval=1)
        sms_to = Counter(m["to"] for m in sms)
        mail_to = Counter(t for m in mail for t in m.get("to", m.get("rcpt_tos", [])))
        for address, person in inside.items():
            assert sms_to[address] + mail_to[address] == 1, f"{person.registration.traveller_id} got one message"
        assert not (outside & (set(sms_to) | set(mail_to))), "nobody outside the circle was messaged"
        for message in sms:
            person = inside[message["to"]]
            assert digits(hotline) in digits(message["body"])
            assert SMS_MARKERS[person.registration.language] in message["body"]

        # The public JSON, Atom and CAP show it.
        public = (await client.get(stack.url("crisis_center") + "/public/crises")).json()
        assert [c["hotline_number"] for c in public] == [hotline]
        atom = await client.get(stack.url("crisis_center") + "/public/crises.atom")
        assert atom.status_code == 200 and hotline in atom.text and "<feed" in atom.text
        cap = await client.get(stack.url("crisis_center") + f"/public/crises/{crisis['crisis_id']}.cap")
        assert cap.status_code == 200
        assert re.search(r"<msgType>(Alert|Update)</msgType>", cap.text), "an Alert, or an Update of it"
        assert digits(hotline) in digits(cap.text)
        assert len(re.findall(r"<info>", cap.text)) == 4

        # A traveller inside texts "passport stolen": reference by TwiML and an acknowledgement SMS with the card.
        texter = next(p for p in people if p.inside and p.registration.phone)
        url = stack.url("intake") + "/twilio/sms"
        form = {"From": texter.registration.phone or "", "To": "+3225010000", "Body": "passport stolen",
                "MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": "AC" + "0" * 32}
        reply = await client.post(url, data=form, headers=signed(url, form))
        assert reply.status_code == 200
        reference = re.search(r"BE-\d{4}-\d{6}", reply.text)
        assert reference, reply.text
        duty = auth("duty_officer")

        async def routed() -> dict | None:  # type: ignore[type-arg]
            case = (await client.get(stack.url("intake") + f"/v1/reports/{reference.group()}", headers=duty)).json()
            return case if case.get("post") else None

        case = await eventually(routed, timeout=60)
        assert case["kind"] == "lost_document"
        assert case["post"]["country"] in ("IN", "NP")

        async def acknowledged() -> list[dict] | None:  # type: ignore[type-arg]
            found = [m for m in await sent_sms(stack)
                     if m["to"] == texter.registration.phone and reference.group() in m["body"]]
            return found or None

        ack = (await eventually(acknowledged, timeout=60))[0]
        assert case["officer"]["name"] in ack["body"] and digits(case["officer"]["phone"]) in digits(ack["body"])

        # Closing the crisis publishes crisis.closed and the CAP Cancel.
        closed = await client.post(stack.url("crisis_center") + f"/v1/crises/{crisis['crisis_id']}/close",
                                   headers=coordinator)
        assert closed.status_code == 200
        cap = await client.get(stack.url("crisis_center") + f"/public/crises/{crisis['crisis_id']}.cap")
        assert "<msgType>Cancel</msgType>" in cap.text and "<references>" in cap.text

    async def statuses_until_closed() -> list[tuple[bytes | None, CloudEvent]] | None:
        """The crisis's records on crisis.status (one key, one partition: in order) once the last is
        crisis.closed; the number of crisis.updated between depends on how the count grew."""
        records = await consume(stack.prefix + "crisis.status", count=10**6, timeout=2)
        mine = [(r.key, event) for r in records if (event := decode(r.value)).data["crisis_id"] == crisis["crisis_id"]]
        return mine if mine and mine[-1][1].type == "be.diplomatie.crisis.closed" else None

    statuses = await eventually(statuses_until_closed, timeout=60, interval=0)
    types = [event.type for _, event in statuses]
    assert types[0] == "be.diplomatie.crisis.activated"
    assert types.count("be.diplomatie.crisis.activated") == 1
    # The contract: compacted, keyed by crisis_id, so the value that stays is the closed one, saying so.
    assert {key for key, _ in statuses} == {crisis["crisis_id"].encode()}
    last = statuses[-1][1].data
    assert last["status"] == "closed" and last["closed_at"] and last["hotline_number"] == hotline

    # No test person's phone, email or name in any log of the run.
    logs = stack.service_logs()
    assert len(logs) == 8
    assert leaks_in_files(logs, personal_values(people)) == {}, "personal data in the services' logs"
    assert leaks_in_files(logs, secret_values()) == {}, "a secret in the services' logs"
