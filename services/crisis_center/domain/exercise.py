"""Exercise mode (issue 23): who an exercise crisis may message, and how it is marked.

An exercise crisis is opened by hand with `exercise: true`. Its people are the test list (`EXERCISE_RECIPIENTS`),
recorded as its contacts when it is opened, each with a person id starting `exercise:`; every path that messages
a crisis's people (the alert, follow-ups, the all-clear, welfare rounds, check-in codes) keeps, for an exercise
crisis, only those people (`only_test_people`), and marks its commands with `exercise: true` in their params (the
notifier's templates then print the EXERCISE line first). Pure functions, no I/O.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from services.crisis_center.domain.activation import to_e164

#: The person ids of test-list people (never a traveller's or a check-in's id).
PREFIX = "exercise:"
LANGUAGES = ("fr", "nl", "de", "en")
#: The marking, in the four languages (the templates print it; the feeds use it).
BANNER = "EXERCISE \u2013 EXERCICE \u2013 OEFENING \u2013 \u00dcBUNG"

_NAMESPACE = uuid.UUID("4f6b2a8e-9d1c-4e7a-8b3f-2c5d6e7f8a90")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


class BadTestList(ValueError):
    """An entry of EXERCISE_RECIPIENTS is neither an E.164 number nor an email address."""


@dataclass(frozen=True, slots=True)
class ExerciseContact:
    person_id: str
    phone: str | None
    email: str | None
    language: str


def parse_test_list(value: str) -> tuple[ExerciseContact, ...]:
    """`'+32470000001, ops@example.org:fr'`: comma-separated phones (E.164) and emails, each optionally followed by
    `:fr`, `:nl`, `:de` or `:en` (the language of their messages; default en). Empty: nobody. The same address twice
    is one person."""
    found: dict[str, ExerciseContact] = {}
    for raw in filter(None, (item.strip() for item in value.split(","))):
        address, language = raw, "en"
        head, sep, tail = raw.rpartition(":")
        if sep and tail.strip().lower() in LANGUAGES:
            address, language = head.strip(), tail.strip().lower()
        if "@" in address:
            if not _EMAIL.match(address):
                raise BadTestList(f"EXERCISE_RECIPIENTS: {raw!r} is not an email address")
            email, phone = address.lower(), None
        else:
            try:
                phone, email = to_e164(address), None
            except ValueError as exc:
                raise BadTestList(f"EXERCISE_RECIPIENTS: {raw!r} is not an E.164 number or an email") from exc
        key = phone or email or ""
        found.setdefault(key, ExerciseContact(person_id(key), phone, email, language))
    return tuple(found.values())


def person_id(address: str) -> str:
    """A test person's id, derived from the address (the same in every exercise)."""
    return PREFIX + str(uuid.uuid5(_NAMESPACE, address))


def is_test_person(person: str) -> bool:
    return person.startswith(PREFIX)


T = TypeVar("T")


def only_test_people(exercise: bool, people: Iterable[T], person_of: Any) -> list[T]:
    """All `people` of a real crisis; of an exercise, only the test list's (`person_of(p)` gives the person id)."""
    return [p for p in people if not exercise or is_test_person(str(person_of(p)))]


def mark(params: Mapping[str, Any], exercise: bool) -> dict[str, Any]:
    """A command's params, with `exercise: true` for an exercise crisis (real crises' params are unchanged)."""
    return {**params, "exercise": True} if exercise else dict(params)


def sms_texts(texts: Mapping[str, str], exercise: bool) -> dict[str, str]:
    """The SMS texts per language as an exercise's people get them: the EXERCISE line first, as the notifier's
    templates print it (the planner counts its segments; often one more per message)."""
    return {lang: f"{BANNER}\n{text}" for lang, text in texts.items()} if exercise else dict(texts)


def title(text: str, exercise: bool) -> str:
    """A title as the public feeds show it: an exercise's starts with EXERCISE."""
    return f"{BANNER}: {text}" if exercise else text
