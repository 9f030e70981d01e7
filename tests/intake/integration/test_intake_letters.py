"""Letters for requests that came by post: waiting list, the PDF in the citizen's language with the officer card and
reference, and "printed and posted" marking the case's message sent."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from tests.support import auth

DUTY = auth("duty_officer")


def by_post(language: str) -> dict[str, Any]:
    return {"kind": "information_request", "description": "Demande d'attestation", "location": {"country": "BE"},
            "reporter": {"full_name": "Jean Lettre", "language": language, "channel": "post",
                         "address": f"Rue du Courrier {uuid.uuid4().int % 100}, 1000 Bruxelles"}}


async def test_a_letter_waits_prints_and_is_posted(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    case = (await client.post("/v1/reports", json=by_post("fr"), headers=DUTY)).json()
    reference = case["reference"]
    reply = await client.post(f"/v1/reports/{reference}/messages", json={"body": "Voici votre attestation."},
                              headers=DUTY)
    assert reply.status_code == 200
    waiting = [w for w in (await client.get("/v1/letters", headers=DUTY)).json() if w["reference"] == reference]
    assert [w["purpose"] for w in waiting] == ["acknowledgement", "reply-1"]

    letter = waiting[1]
    pdf = await client.get(f"/v1/letters/{letter['letter_id']}.pdf", headers=DUTY)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and reference.encode() in pdf.content
    # The officer's card once, from the template's text ("Votre personne de contact"), not again under it.
    assert pdf.content.count(case["officer"]["email"].encode()) == 1 and b"Votre personne de contact" in pdf.content

    posted = await client.post(f"/v1/letters/{letter['letter_id']}/posted", headers=DUTY)
    assert posted.status_code == 200 and posted.json()["posted_by"] == "tester"
    assert (await client.post(f"/v1/letters/{letter['letter_id']}/posted", headers=DUTY)).status_code == 409
    still = [w["purpose"] for w in (await client.get("/v1/letters", headers=DUTY)).json()
             if w["reference"] == reference]
    assert still == ["acknowledgement"]
    status = await pool.fetchval("SELECT status FROM messages WHERE reference = $1 AND purpose = 'reply-1'",
                                 reference)
    assert status == "sent"
    read = (await client.get(f"/v1/reports/{reference}", headers=DUTY)).json()
    assert read["history"][-1]["action"] == "letter_posted" and read["history"][-1]["actor"] == "tester"


async def test_letters_need_a_duty_officer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/letters")).status_code == 401
    assert (await client.get("/v1/letters", headers=auth("coordinator"))).status_code == 403
    assert (await client.get("/v1/letters/999999999.pdf", headers=DUTY)).status_code == 404
    assert (await client.post("/v1/letters/999999999/posted", headers=DUTY)).status_code == 404


async def test_a_letter_in_each_language(client: httpx.AsyncClient) -> None:
    # The text is the acknowledgement template's, with the officer's card once (not again under the text).
    for language, label in (("nl", b"Uw contactpersoon"), ("de", b"Ihr Ansprechpartner"), ("en", b"Your contact")):
        case = (await client.post("/v1/reports", json=by_post(language), headers=DUTY)).json()
        letters = [w for w in (await client.get("/v1/letters", headers=DUTY)).json()
                   if w["reference"] == case["reference"]]
        pdf = await client.get(f"/v1/letters/{letters[0]['letter_id']}.pdf", headers=DUTY)
        assert label in pdf.content, language
        assert pdf.content.count(case["officer"]["email"].encode()) == 1, language
