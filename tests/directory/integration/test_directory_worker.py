"""Routing of consular reports on the real broker and database: consular.reports in, directory.routings out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from services.directory import handlers
from services.directory.__main__ import publish_posts
from services.directory.bootstrap import open_resources
from services.directory.settings import Settings
from services.directory.worker import Worker
from shared.events.envelope import decode
from shared.events.reports import ReportSubmitted
from shared.kafka.producer import make_producer, publish
from tests.support import bootstrap, consume, eventually, started_worker

INTAKE = "/services/intake"


def report(reference: str | None, kind: str, **location: object) -> ReportSubmitted:
    return ReportSubmitted.model_validate(
        {
            "reference": reference,
            "report_id": None if reference else "ext-1",
            "kind": kind,
            "reporter": {"full_name": "Test Reporter", "email": "r@example.org", "language": "fr", "channel": "web"},
            "location": location,
            "description": "test report",
            "received_at": datetime.now(UTC).isoformat(),
            "channel": "web",
        }
    )


@pytest.fixture(scope="module")
async def worker(settings: Settings) -> AsyncIterator[Worker]:
    async with started_worker(Worker, open_resources, settings, client_id="directory-worker-test") as (worker, _):
        yield worker


async def _routings(prefix: str, references: set[str]) -> dict[str, dict]:
    records = await consume(
        prefix + "directory.routings",
        count=len(references),
        predicate=lambda r: r.key is not None and r.key.decode() in references,
        timeout=60,
    )
    events = [decode(r.value) for r in records]
    assert all(e.type == "be.diplomatie.case.routed" and e.source == "/services/directory" for e in events)
    return {e.data["reference"]: e.data for e in events}


async def test_reports_are_routed_to_the_responsible_post(worker: Worker, prefix: str, pool: asyncpg.Pool) -> None:
    cases = {
        "BE-2026-100001": (report("BE-2026-100001", "detention", country="TG", city="Lomé"),
                           "be-embassy-abuja", "consular_jurisdiction", "detention_assistance"),
        "BE-2026-100002": (report("BE-2026-100002", "lost_document", country="CA", lat=49.28, lon=-123.12),
                           "be-consulate-general-montreal", "resident", "emergency_travel_document"),
        "BE-2026-100003": (report("BE-2026-100003", "missing_person", country="CD", city="Kolwezi"),
                           "be-consulate-general-lubumbashi", "resident", "missing_person"),
        "BE-2026-100004": (report("BE-2026-100004", "complaint", country="AF"),
                           "be-embassy-islamabad", "side_accreditation", "consular_information"),
    }  # fmt: skip
    producer = make_producer(bootstrap(), client_id="directory-test-producer")
    await producer.start()
    try:
        for data, *_ in cases.values():
            await publish(producer, data, source=INTAKE, topic_prefix=prefix)
        # A report from another system: intake republishes it as a case, so the directory leaves it alone.
        foreign = await publish(
            producer, report("BE-2026-100099", "detention", country="TG"), source="/external/x", topic_prefix=prefix
        )
        unreferenced = await publish(producer, report(None, "detention", country="TG"), source=INTAKE,
                                     topic_prefix=prefix)  # fmt: skip
    finally:
        await producer.stop()

    routed = await _routings(prefix, set(cases))
    for reference, (_, post_id, basis, service) in cases.items():
        data = routed[reference]
        assert (data["post"]["post_id"], data["basis"], data["service"]) == (post_id, basis, service), reference
    assert routed["BE-2026-100002"]["distance_km"] > 1000  # Vancouver to Montreal

    async def skipped() -> bool:
        ids = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM processed_events")}
        return {f"/external/x|{foreign.id}", f"{INTAKE}|{unreferenced.id}"} <= ids

    await eventually(skipped)
    assert await pool.fetchval("SELECT count(*) FROM routings WHERE reference = 'BE-2026-100099'") == 0
    stored = await pool.fetchrow("SELECT * FROM routings WHERE reference = 'BE-2026-100001'")
    assert stored is not None and stored["post_id"] == "be-embassy-abuja" and stored["country"] == "TG"


async def test_eu_routing_and_a_report_from_belgium(worker: Worker, prefix: str) -> None:
    producer = make_producer(bootstrap(), client_id="directory-test-producer")
    await producer.start()
    try:
        await publish(producer, report("BE-2026-100011", "lost_document", country="AF"), source=INTAKE,
                      topic_prefix=prefix)  # fmt: skip
        await publish(producer, report("BE-2026-100012", "detention", country="BE"), source=INTAKE,
                      topic_prefix=prefix)  # fmt: skip
    finally:
        await producer.stop()
    routed = await _routings(prefix, {"BE-2026-100011", "BE-2026-100012"})
    eu = routed["BE-2026-100011"]
    assert eu["basis"] == "eu_member_state" and eu["eu_member_state"] not in (None, "BE")
    assert eu["post"]["country"] == "AF"
    home = routed["BE-2026-100012"]
    assert home["post"] is None and home["basis"] is None


async def test_a_closed_post_is_skipped_by_the_router(worker: Worker, prefix: str, settings: Settings) -> None:
    # Close Abuja through the same path the API uses, from another process's resources.
    resources = await open_resources(settings)
    try:
        await handlers.change_post(
            pool=resources.pool, snapshot=resources.snapshot, post_id="be-embassy-abuja", change="close_temporarily",
            payload={"note": "test"}, subject="tester", roles=["coordinator"], source=settings.source,
            topic_prefix=prefix, now=datetime.now(UTC),
        )  # fmt: skip
        await eventually(lambda: worker.resources.snapshot.current.posts["be-embassy-abuja"].temporarily_closed)
        producer = make_producer(bootstrap(), client_id="directory-test-producer")
        await producer.start()
        try:
            await publish(producer, report("BE-2026-100021", "detention", country="TG"), source=INTAKE,
                          topic_prefix=prefix)  # fmt: skip
        finally:
            await producer.stop()
        routed = await _routings(prefix, {"BE-2026-100021"})
        assert routed["BE-2026-100021"]["basis"] == "eu_member_state"
    finally:
        await handlers.change_post(
            pool=resources.pool, snapshot=resources.snapshot, post_id="be-embassy-abuja", change="reopen",
            payload={}, subject="tester", roles=["coordinator"], source=settings.source, topic_prefix=prefix,
            now=datetime.now(UTC),
        )  # fmt: skip
        await resources.pool.close()


async def test_publish_posts_fills_the_compacted_topic(worker: Worker, prefix: str, settings: Settings) -> None:
    count = await publish_posts(settings)
    assert count == len(worker.resources.snapshot.current.posts)
    records = await consume(
        prefix + "directory.posts",
        count=count,
        predicate=lambda r: decode(r.value).data.get("change") == "published",
        timeout=60,
    )
    keys = {r.key.decode() for r in records if r.key}
    assert keys == set(worker.resources.snapshot.current.posts)
    cape_town = next(decode(r.value).data for r in records if r.key == b"be-consulate-general-cape-town")
    assert {e["country"] for e in cape_town["post"]["consular_jurisdiction"]} == {"ZA", "NA", "TF"}
