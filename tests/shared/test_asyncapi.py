"""The AsyncAPI document in the repo describes exactly the topics and event models of the code."""

from __future__ import annotations

import json

from shared import asyncapi
from shared.events.registry import EVENT_MODELS
from shared.topics import TOPICS
from tests.support import ROOT


def test_committed_asyncapi_document_is_up_to_date() -> None:
    committed = (ROOT / "docs" / "asyncapi.json").read_text()
    assert committed == asyncapi.render(), "run: python -m shared.asyncapi > docs/asyncapi.json"


def test_every_topic_and_every_event_type_is_documented_with_its_fields() -> None:
    document = json.loads((ROOT / "docs" / "asyncapi.json").read_text())
    assert document["asyncapi"].startswith("3.")
    assert set(document["channels"]) == {t.name for t in TOPICS}
    documented = {m["name"]: m for m in document["components"]["messages"].values()}
    assert set(documented) == {m.TYPE for m in EVENT_MODELS}
    for model in EVENT_MODELS:
        data_schema = documented[model.TYPE]["payload"]["properties"]["data"]
        assert set(data_schema["properties"]) == set(model.model_fields), model.TYPE
        assert documented[model.TYPE]["payload"]["properties"]["type"]["const"] == model.TYPE
        channel = document["channels"][model.TOPIC]
        assert any(ref["$ref"].endswith("/" + key) for key, ref in channel["messages"].items()
                   if documented[model.TYPE] is document["components"]["messages"][key])
    compacted = {name for name, c in document["channels"].items()
                 if c["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"] == ["compact"]}
    assert {"travellers.registrations", "crisis.status"} <= compacted
