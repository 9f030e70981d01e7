"""What schemathesis finds only by chance, checked on every request model of every service, every run.

Two gaps between a request body's JSON Schema and what pydantic accepts let a schema-invalid request through
(schemathesis ST201) or refuse a schema-valid one (ST202); each was found by the fuzz run on a lucky draw:
- pydantic's lax mode takes `true` (and `"5"`) for an `integer` or `number` field, its strict mode refuses
  `15.0`, which JSON Schema counts as an integer: every number in a request body is shared.events.common's
  `Integer` or `Number`, which take exactly what the schema allows;
- a model that strips whitespace turns `"\\t"` into `""`, which then fails `min_length=1` although the schema's
  `minLength: 1` allowed it: such a field also states `pattern: \\S` (at least one visible character).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

import annotated_types
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from shared.events.common import Integer, Number, json_integer, json_number
from shared.openapi import flat_routes
from tests.fuzz.openapi_harness import build

SERVICES = ("intake", "directory", "crisis_center", "notifier")


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    return (route for route in flat_routes(routes) if isinstance(route, APIRoute))


def json_numeric(metadata: list[Any]) -> bool:
    return any(getattr(item, "func", None) in (json_integer, json_number) for item in metadata)


def leaves(annotation: Any, metadata: list[Any]) -> Iterator[tuple[Any, list[Any]]]:
    """The field's innermost types with the constraints that apply to each (through Optional, unions, containers)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        found: list[Any] = []
        for item in extra:
            found.extend(item.metadata if isinstance(item, FieldInfo) else [item])
        yield from leaves(inner, metadata + found)
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from leaves(arg, metadata)
    elif origin in (list, tuple, set, frozenset, dict):
        for arg in typing.get_args(annotation):  # the container's own constraints are not its items'
            if arg is not Ellipsis:
                yield from leaves(arg, [])
    else:
        yield annotation, metadata


def request_models(app: FastAPI) -> Iterator[tuple[str, type[BaseModel]]]:
    seen: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel], where: str) -> Iterator[tuple[str, type[BaseModel]]]:
        if model in seen:
            return
        seen.add(model)
        yield where, model
        for name, field in model.model_fields.items():
            for leaf, _ in leaves(field.annotation, list(field.metadata)):
                if isinstance(leaf, type) and issubclass(leaf, BaseModel):
                    yield from walk(leaf, f"{where}.{name}")

    for route in api_routes(app.routes):
        for param in route.dependant.body_params:
            for leaf, _ in leaves(param.field_info.annotation, []):
                if isinstance(leaf, type) and issubclass(leaf, BaseModel):
                    yield from walk(leaf, f"{sorted(route.methods)[0]} {route.path}")


def faults(model: type[BaseModel]) -> Iterator[str]:
    stripped = bool(model.model_config.get("str_strip_whitespace"))
    for name, field in model.model_fields.items():
        for leaf, metadata in leaves(field.annotation, list(field.metadata)):
            if leaf in (int, float) and not json_numeric(metadata):
                yield (f"{model.__name__}.{name}: a lax {leaf.__name__} takes a boolean (use Integer or Number of "
                       "shared.events.common)")
            if leaf is str and stripped:
                least = max((item.min_length for item in metadata if isinstance(item, annotated_types.MinLen)),
                            default=0)
                patterns = [item.pattern for item in metadata if getattr(item, "pattern", None)]
                if least == 1 and not patterns:
                    yield f"{model.__name__}.{name}: blank text passes minLength 1, then fails once stripped"
                if least > 1:
                    yield f"{model.__name__}.{name}: min_length {least} counts stripped text, the schema does not"


@pytest.fixture(scope="module")
def apps() -> dict[str, FastAPI]:
    return {service: build(service, "unused", "unused", 1) for service in SERVICES}


@pytest.mark.parametrize("service", SERVICES)
def test_request_bodies_mean_what_their_schema_says(service: str, apps: dict[str, FastAPI]) -> None:
    found = [f"{where}: {fault}" for where, model in request_models(apps[service]) for fault in faults(model)]
    assert not found, "\n".join(found)


def test_the_walk_sees_included_routers_and_nested_models(apps: dict[str, FastAPI]) -> None:
    """The check above is only as good as its walk: it reaches models of included routers and nested ones."""
    names = {model.__name__ for _, model in request_models(apps["intake"])}
    assert {"ReportIn", "Reporter", "MessageIn", "AssigneeIn"} <= names  # create_app, nested, two routers
    names = {model.__name__ for _, model in request_models(apps["crisis_center"])}
    assert {"ManualActivation", "Circle", "RoundIn"} <= names


def test_the_faults_it_names() -> None:
    from typing import Annotated

    from pydantic import ConfigDict, Field

    class Lax(BaseModel):
        model_config = ConfigDict(str_strip_whitespace=True)
        count: int
        points: list[tuple[float, float]]
        text: Annotated[str, Field(min_length=1)]

    class Kept(BaseModel):
        model_config = ConfigDict(str_strip_whitespace=True)
        count: Annotated[Integer, Field(ge=0)]
        points: list[tuple[Number, Number]]
        text: Annotated[str, Field(min_length=1, pattern=r"\S")]

    assert len(list(faults(Lax))) == 4
    assert list(faults(Kept)) == []
    assert Kept.model_validate({"count": 15.0, "points": [(1, 2.5)], "text": "a"}).count == 15  # JSON's integer
    for refused in ({"count": True}, {"count": "5"}, {"count": 1.5}, {"points": [(True, 1)]}, {"points": [("1", 1)]}):
        with pytest.raises(ValidationError):
            Kept.model_validate({"count": 1, "points": [], "text": "a", **refused})


def bare_constraints(node: Any, where: str = "") -> Iterator[str]:
    """Schemas that carry pydantic's own constraint names (`ge`, `le`...) instead of JSON Schema's: what pydantic
    writes when a constraint follows a validator inside `Annotated`, and no client understands."""
    if isinstance(node, dict):
        if "type" in node and {"ge", "le", "gt", "lt"} & node.keys():
            yield where
        for key, value in node.items():
            yield from bare_constraints(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from bare_constraints(value, f"{where}/{index}")


@pytest.mark.parametrize("service", SERVICES)
def test_every_constraint_is_stated_in_json_schema_terms(service: str, apps: dict[str, FastAPI]) -> None:
    found = list(bare_constraints(apps[service].openapi()))
    assert not found, "\n".join(found)


def unbounded_parameters(document: dict[str, Any]) -> Iterator[str]:
    """Parameters that take any length or any number: every path id, and every parameter of a public operation
    (one that never answers 401, e.g. a Twilio webhook), must be an enum, a bounded text (`maxLength`, or an
    anchored pattern without `*` or `+`) or a number with a minimum and a maximum."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            public = "401" not in operation.get("responses", {})
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "path" and not public:
                    continue
                schema = parameter.get("schema", {})
                for option in schema.get("anyOf", [schema]):
                    if option.get("type") == "null" or {"$ref", "enum", "const", "oneOf"} & option.keys():
                        continue
                    pattern = option.get("pattern", "")
                    bounded_text = "maxLength" in option or (
                        pattern.startswith("^") and pattern.endswith("$") and not {"*", "+"} & set(pattern))
                    if option.get("type") == "string" and not bounded_text:
                        yield f"{method.upper()} {path}: {parameter['name']} takes text of any length"
                    if option.get("type") in ("integer", "number") and not {"minimum", "maximum"} <= option.keys():
                        yield f"{method.upper()} {path}: {parameter['name']} takes any number"


@pytest.mark.parametrize("service", SERVICES)
def test_path_ids_and_public_parameters_are_bounded(service: str, apps: dict[str, FastAPI]) -> None:
    found = list(unbounded_parameters(apps[service].openapi()))
    assert not found, "\n".join(found)


def test_the_voice_line_takes_its_languages_and_few_attempts(apps: dict[str, FastAPI]) -> None:
    document = apps["intake"].openapi()
    dial = {p["name"]: p["schema"] for p in document["paths"]["/twilio/voice/dial"]["post"]["parameters"]}
    assert (dial["attempt"]["minimum"], dial["attempt"]["maximum"]) == (0, 9)
    assert document["components"]["schemas"][dial["lang"]["$ref"].rsplit("/", 1)[1]]["enum"] == ["fr", "nl", "de", "en"]
