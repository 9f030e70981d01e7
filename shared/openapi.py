"""What the OpenAPI documents say about errors, and the `Allow` header of a 405.

`error_responses(404, 409)` gives a route's `responses=` entries with the platform's error bodies (`ErrorDetail`,
or the `{field, rule, message}` list of a 422) and `Retry-After` on 429 and 503. `complete_document` (called by
shared/http.py when an app's document is first built) adds what every operation can answer whatever the route
says (but not the 503 of a database that is down to an operation marked `NO_DATABASE`). `allowed_methods` lists
every method a path has: Starlette's 405 names only those of the first route whose path matched, so
`OPTIONS /v1/crises` answered `Allow: GET` although the path also has POST.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import Scope

ERROR_DETAIL_REF = "#/components/schemas/ErrorDetail"
VALIDATION_ERROR_REF = "#/components/schemas/FieldErrors"

#: The 422 body of shared/http.py's handlers: `{"detail": [{"field", "rule", "message"}, ...]}`.
FIELD_ERRORS_SCHEMA: dict[str, Any] = {
    "title": "FieldErrors", "type": "object", "required": ["detail"],
    "properties": {"detail": {"type": "array", "items": {
        "type": "object", "required": ["field", "rule", "message"],
        "properties": {"field": {"type": "string"}, "rule": {"type": "string"}, "message": {"type": "string"}}}}},
}
#: Text that PostgreSQL can store: no NUL character (a NUL in any text field is answered 422 by shared/http.py).
NO_NUL = r"^[^\x00]*$"
#: A rule of every text field of every operation, said once in each document's description.
TEXT_RULE = ("Text fields never hold the NUL character (U+0000): PostgreSQL cannot store it, and a request carrying "
             "one is answered 422 with the rule `characters`.")
RETRY_AFTER_HEADER: dict[str, Any] = {
    "description": "seconds to wait before trying again", "schema": {"type": "string", "pattern": r"^[0-9]+$"}}
#: `Retry-After` of a 503 that lasts until an operator changes the configuration (a missing key, sign-in not set
#: up, or password sign-in in OIDC mode): every documented 503 carries the header, so these ask again in an hour.
RETRY_AFTER_CONFIGURATION: dict[str, str] = {"Retry-After": "3600"}
#: An operation's `openapi_extra` when it never touches the database (a probe, a static page): `complete_document`
#: then does not give it the 503 that the app's other operations answer while the database is down.
NO_DATABASE: dict[str, Any] = {"x-no-database": True}

DESCRIPTIONS: dict[int, str] = {
    400: "the body cannot be parsed",
    401: "missing, malformed, expired or badly signed token",
    403: "the token lacks the role",
    404: "no such resource",
    409: "conflicts with the resource's current state",
    410: "gone: expired or closed",
    413: "the body is too large",
    415: "unsupported media type",
    422: "bad input: `detail` names each field and the rule it breaks",
    429: "too many requests; Retry-After says when to try again",
    503: "a dependency is unavailable; Retry-After says when to try again",
}


def error_response(code: int, description: str | None = None) -> dict[str, Any]:
    """One documented error: its description, the JSON body's schema, and `Retry-After` on 429 and 503."""
    ref = VALIDATION_ERROR_REF if code == 422 else ERROR_DETAIL_REF
    response: dict[str, Any] = {"description": description or DESCRIPTIONS.get(code, "error"),
                                "content": {"application/json": {"schema": {"$ref": ref}}}}
    if code in (429, 503):
        response["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
    return response


def error_responses(*codes: int, descriptions: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for a route: `error_responses(404, 409, descriptions={409: "the officer has ended"})`."""
    descriptions = descriptions or {}
    return {code: error_response(code, descriptions.get(code)) for code in codes}


def _fill(responses: dict[str, Any], code: int, description: str | None = None) -> None:
    """Document `code` unless the route did; give a documented 422/429/503 its body schema and `Retry-After`."""
    key = str(code)
    wanted = error_response(code, description)
    existing = responses.setdefault(key, wanted)
    if existing is wanted:
        return
    content = existing.setdefault("content", {})
    if not content:
        existing["content"] = wanted["content"]
    elif "application/json" in content and not content["application/json"].get("schema"):
        # a JSON body beside others (e.g. an HTML page's 422 and the JSON one of a field out of bounds)
        content["application/json"] = wanted["content"]["application/json"]
    if "headers" in wanted:
        existing.setdefault("headers", {}).setdefault("Retry-After", RETRY_AFTER_HEADER)


def complete_document(schema: dict[str, Any], *, secured: Iterable[int], unavailable: bool) -> None:
    """Add to every operation what it can answer whatever its route says: `secured` codes (401, 403, and 503 with
    an OIDC provider) on authenticated operations; 404 where the path names a resource; 400 where a body is
    parsed; 422 where there is input to reject; 503 with Retry-After everywhere when the app answers so while its
    database is down (`unavailable`)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("FieldErrors", FIELD_ERRORS_SCHEMA)
    info = schema.setdefault("info", {})
    info["description"] = (info.get("description", "") + " " + TEXT_RULE).strip()
    secured = list(secured)
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:  # e.g. a path's `parameters`
                continue
            responses = operation.setdefault("responses", {})
            codes: list[int] = []
            if operation.get("security"):
                codes += secured
            if "{" in path:
                codes.append(404)
            if "requestBody" in operation:
                codes.append(400)
            if "requestBody" in operation or operation.get("parameters"):
                codes.append(422)
            if unavailable and not operation.pop("x-no-database", False):
                codes.append(503)
            codes += [int(code) for code in responses if code in ("429", "503")]
            for code in codes:
                _fill(responses, code)


def flat_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, into included routers (FastAPI keeps an included router as one route that holds it; the
    platform's routers carry their full paths, no prefix)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from flat_routes(included.routes)
        else:
            yield route


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> list[str]:
    """Every method of every route whose path matches the request's (for the `Allow` header of a 405)."""
    methods: set[str] = set()
    for route in flat_routes(routes):
        match, _ = route.matches({**scope, "method": "GET"})
        route_methods = getattr(route, "methods", None)
        if match is not Match.NONE and route_methods:  # PARTIAL: the path matched, not the method
            methods |= set(route_methods)
    return sorted(methods)


def exactly_one_of_parameter(name: str, fields: Mapping[str, dict[str, Any]], *, description: str) -> dict[str, Any]:
    """An OpenAPI query parameter for "exactly one of these query parameters": an object serialised as separate
    parameters (form, exploded) whose schema is `oneOf` the fields. Declare the fields themselves with
    `include_in_schema=False` so the document names them only here."""
    choices = [{"type": "object", "required": [field], "properties": {field: schema},
                "not": {"anyOf": [{"required": [other]} for other in fields if other != field]}}
               for field, schema in fields.items()]
    return {"name": name, "in": "query", "required": True, "style": "form", "explode": True,
            "description": description, "schema": {"oneOf": choices}}


#: A Twilio webhook's refusal: 403 when `X-Twilio-Signature` does not match (docs/CONVENTIONS.md).
TWILIO_SIGNATURE_REFUSED: dict[int | str, dict[str, Any]] = error_responses(
    403, descriptions={403: "`X-Twilio-Signature` is missing or does not match the URL and form"})
#: The media type of TwiML, as every webhook sends it.
TWIML_MEDIA_TYPE = "text/xml"
#: A Twilio webhook's answers: TwiML, or 403 when `X-Twilio-Signature` does not match.
TWILIO_WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "TwiML for Twilio", "content": {TWIML_MEDIA_TYPE: {"schema": {"type": "string"}}}},
    **TWILIO_SIGNATURE_REFUSED,
}
#: A Twilio status callback's answers: 204 without a body, or 403 when the signature does not match.
TWILIO_CALLBACK_RESPONSES: dict[int | str, dict[str, Any]] = {
    204: {"description": "recorded (or ignored: a status the platform does not follow)"},
    **TWILIO_SIGNATURE_REFUSED,
}


def not_null(schema: dict[str, Any]) -> None:
    """`json_schema_extra` for an optional field that may be left out but not sent as null (the handler refuses
    null): the schema offers the value's type only, while validation (and its error locations) stay those of
    `X | None`."""
    options = schema.get("anyOf")
    if isinstance(options, list):
        rest = [option for option in options if option != {"type": "null"}]
        if len(rest) == 1:
            del schema["anyOf"]
            schema.update(rest[0])
        else:
            schema["anyOf"] = rest
