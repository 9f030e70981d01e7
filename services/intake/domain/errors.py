"""Pydantic validation errors as `{field, rule, message}`, the 422 body of the conventions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

# pydantic's error types -> the rule names our API documents; custom rules already carry their own name.
_RULES: Mapping[str, str] = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "enum": "one_of",
    "literal_error": "one_of",
    "string_too_short": "min_length",
    "string_too_long": "max_length",
    "too_short": "min_length",
    "too_long": "max_length",
    "greater_than_equal": "minimum",
    "less_than_equal": "maximum",
    "greater_than": "minimum",
    "less_than": "maximum",
    "string_type": "type_string",
    "bool_type": "type_boolean",
    "bool_parsing": "type_boolean",
    "float_type": "type_number",
    "float_parsing": "type_number",
    "int_parsing": "type_integer",
    "date_from_datetime_parsing": "date",
    "date_parsing": "date",
    "date_type": "date",
    "datetime_from_date_parsing": "datetime",
    "datetime_parsing": "datetime",
    "datetime_type": "datetime",
    "model_type": "type_object",
    "model_attributes_type": "type_object",
    "dict_type": "type_object",
    "json_invalid": "json",
}

# Locations FastAPI puts in front of the field path.
_PREFIXES = {"body", "query", "path", "header"}


@dataclass(frozen=True)
class FieldError:
    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


def field_path(loc: Sequence[int | str]) -> str:
    """`("body", "reporter", "phone")` -> `reporter.phone`; list indexes stay in brackets."""
    parts = list(loc)
    if parts and parts[0] in _PREFIXES:
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("function-") or part in {"str", "int", "float", "date", "datetime"}:
            continue  # pydantic names union members and validators in the location; they are no field
        else:
            out += f".{part}" if out else part
    return out or "(body)"


def describe(errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """Map pydantic's error dicts (`ValidationError.errors()` or FastAPI's) to field errors, without duplicates."""
    seen: set[tuple[str, str]] = set()
    result: list[FieldError] = []
    for error in errors:
        kind = str(error.get("type", "value_error"))
        rule = _RULES.get(kind, kind)
        field = field_path(error.get("loc", ()))
        if (field, rule) in seen:
            continue  # a union (`str | None`) reports the same failure once per member
        seen.add((field, rule))
        message = str(error.get("msg", rule))
        if kind in {"enum", "literal_error"} and "expected" in (error.get("ctx") or {}):
            message = f"must be one of {error['ctx']['expected']}"
        result.append(FieldError(field=field, rule=rule, message=message))
    return result


def describe_exception(exc: ValidationError) -> list[FieldError]:
    return describe(exc.errors())
