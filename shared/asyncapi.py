"""Builds the AsyncAPI 3 document of every topic and event type from `shared.topics` and the event models.

`python -m shared.asyncapi > docs/asyncapi.json` rewrites it; a test fails when the committed file differs.
"""

from __future__ import annotations

import json
from typing import Any

from shared.events.registry import DATAVERSION, EVENT_MODELS, current_version
from shared.topics import TOPICS

#: Who else publishes on a topic than its description says (a service of ours beside the external systems).
PRODUCERS: dict[str, str] = {
    "crisis.incidents": " Also published by the platform's feeds worker (CloudEvents source `/services/feeds`, "
                        "docs/feeds.md): incidents from the GDACS and USGS public alert feeds, ids `gdacs:<type>:<id>` "
                        "and `usgs:<id>`, with `link` to the event's public page.",
}


def _message_name(event_type: str) -> str:
    return event_type.removeprefix("be.diplomatie.").replace(".", "_")


def _dataversion(event_type: str) -> dict[str, Any]:
    """The `dataversion` attribute of a type above version 1 (docs/CONVENTIONS.md, "Events"); none for the rest."""
    version = current_version(event_type)
    return {} if version == 1 else {DATAVERSION: {"const": version, "description": (
        f"the version of `data`; absent means 1 (older versions are still read, brought up to {version})")}}


def build() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in TOPICS:
        models = [m for m in EVENT_MODELS if spec.name == m.TOPIC]
        refs = {}
        for model in models:
            name = _message_name(model.TYPE)
            schema = model.model_json_schema(ref_template="#/components/schemas/" + name + "_{model}")
            defs = schema.pop("$defs", {})
            messages[name] = {
                "name": model.TYPE,
                "title": model.__name__,
                "summary": (model.__doc__ or "").strip().split("\n")[0] or model.TYPE,
                "contentType": "application/cloudevents+json",
                "headers": {"type": "object", "properties": {
                    "content-type": {"const": "application/cloudevents+json"},
                    "traceparent": {"type": "string", "description": "W3C trace context: the correlation id"}}},
                "payload": {
                    "type": "object",
                    "required": ["specversion", "id", "source", "type", "time", "data"],
                    "properties": {
                        "specversion": {"const": "1.0"}, "id": {"type": "string"}, "source": {"type": "string"},
                        "type": {"const": model.TYPE}, "time": {"type": "string", "format": "date-time"},
                        "datacontenttype": {"const": "application/json"}, "traceparent": {"type": "string"},
                        "data": schema,
                        **_dataversion(model.TYPE),
                    },
                },
                "bindings": {"kafka": {"key": {"type": "string", "description": f"the event's {model.KEY_FIELD}"}}},
            }
            for def_name, definition in defs.items():
                messages.setdefault("__schemas__", {})[f"{name}_{def_name}"] = definition
            refs[name] = {"$ref": f"#/components/messages/{name}"}
        channels[spec.name] = {
            "address": spec.name,
            "description": spec.description + PRODUCERS.get(spec.name, "")
                           + (" Internal to the platform." if spec.internal else ""),
            "messages": refs,
            "bindings": {"kafka": {"partitions": spec.partitions, "topicConfiguration": {
                "cleanup.policy": ["compact"] if spec.compacted else ["delete"]}}},
        }
        if refs:
            operations[f"publish_{spec.name.replace('.', '_')}"] = {
                "action": "send", "channel": {"$ref": f"#/channels/{spec.name}"},
                "messages": [{"$ref": f"#/channels/{spec.name}/messages/{n}"} for n in refs],
            }
    schemas = messages.pop("__schemas__", {})
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Consular and crisis-assistance platform: events", "version": "1.0.0",
                 "description": "CloudEvents 1.0 in structured JSON mode on Apache Kafka. Every topic has a "
                                "`<topic>.dlq` twin holding what could not be handled, with the reason in headers."},
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
