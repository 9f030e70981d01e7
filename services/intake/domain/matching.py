"""Is the person a family seeks someone we know of? Names folded and compared, then the other evidence weighed.

Names are folded before anything is compared: transliterated to ASCII (`anyascii`: Cyrillic, Greek, Arabic,
Chinese with or without tones), case and punctuation dropped, hyphens made spaces, and name particles joined to the
word they precede (`Van den Berg`, `Vandenberg` and `VAN DEN BERG` are all `vandenberg`; `d'Hondt` and `Dhondt`
are `dhondt`). Tokens are compared in any order (a passport's `DUBOIS Marie` is `Marie Dubois`) with Jaro-Winkler,
and two tokens that sound alike (the same Metaphone code: `Peeters`/`Peters`, `Mohammed`/`Muhammad`) count as
near-equal. A given name alone never matches a full name.

The score (0 to 1) starts from the names and is moved by what else is known on both sides: the same phone number
is strong evidence for (a nickname, a married name), a different date of birth strong evidence against (two
`Jan Peeters`), a different country some evidence against. A name many people share is not a match on the name
alone: with more than `COMMON_NAME_PEOPLE` namesakes among the candidates and nothing else agreeing, the score is
held below the threshold. The threshold and the weights were chosen on the labelled set in
`tests/intake/data/name_pairs.csv` (precision and recall: `tests/intake/domain/test_matching.py`).

Metaphone codes of the tokens are also the index that narrows a million candidates to a few hundred
(`blocking_codes`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import jellyfish
from anyascii import anyascii
from rapidfuzz.distance import Indel, JaroWinkler

#: Proposed to the officer at or above this score.
THRESHOLD = 0.8
#: More namesakes than this among the candidates and the name alone does not reach the threshold.
COMMON_NAME_PEOPLE = 3

#: Words that belong to the next one in a family name (Dutch, French, German, Arabic, Spanish, Italian,
#: Portuguese, Irish and Scots), joined to it so that spacing does not matter.
PARTICLES = frozenset({
    "van", "vande", "vanden", "vander", "von", "vom", "zu", "zum", "zur", "de", "den", "der", "het", "ter", "ten",
    "te", "le", "la", "les", "du", "des", "d", "l", "di", "da", "del", "della", "dos", "das", "el", "al", "ben",
    "bin", "ibn", "abu", "ou", "o", "mc", "mac", "st", "saint", "sainte",
})
_NOT_A_LETTER = re.compile(r"[^a-z0-9]+")
#: Two tokens that sound alike count as this similar, at least.
SOUNDS_ALIKE = 0.9
#: ... provided their spellings share this much (`Broeck` and `Berg` are both BRK, and different names).
SOUNDS_ALIKE_SPELLING = 0.7
#: A token less similar than this to every token of the other name is not matched at all.
TOKEN_MATCH = 0.82


@dataclass(frozen=True)
class Person:
    """What is known of a person on one side of a comparison; anything may be missing but the name."""

    full_name: str | None
    date_of_birth: date | None = None
    phone: str | None = None
    country: str | None = None


@lru_cache(maxsize=65_536)
def fold(name: str) -> tuple[str, ...]:
    """The name's tokens: ASCII, lower case, particles joined to the next word."""
    words = _NOT_A_LETTER.sub(" ", anyascii(name).lower()).split()
    tokens: list[str] = []
    pending = ""
    for word in words:
        if word in PARTICLES:
            pending += word
            continue
        tokens.append(pending + word)
        pending = ""
    if pending:  # a particle at the end ("Marie De") stays a word of its own
        tokens.append(pending)
    return tuple(tokens)


@lru_cache(maxsize=65_536)
def sound(token: str) -> str:
    """The token's Metaphone code with repeated letters collapsed (`Schmidt` and `Schmitt` are both SXMT)."""
    code = jellyfish.metaphone(token).upper() or token.upper()
    return re.sub(r"(.)\1+", r"\1", code)


#: Particles stripped from the front of a token before two tokens are compared: `Van den Broeck` is not
#: `Van den Berg` (their shared `vanden` says nothing), `Vandenberghe` is not `Vandenbussche`.
_PARTICLE_PREFIX = re.compile(r"^(?:vanden|vander|vande|van|von|ver|de|den|der|ter|ten|le|la|du|el|al|d)(?=[a-z]{3})")


@lru_cache(maxsize=65_536)
def core(token: str) -> str:
    return _PARTICLE_PREFIX.sub("", token)


def indexed_codes(name: str) -> list[tuple[str, int]]:
    """The codes under which a name is indexed, each with the position of its word: one per word long enough to
    mean something, and one for its core when a particle starts it (`von Bergh` is found as `Bergh`). Two codes of
    one word are one word: `Eline` (ELN, and IN for a core `ine`) does not match every `Eline` on two words."""
    codes = set()
    for position, token in enumerate(fold(name)):
        if len(token) >= 2:
            codes.add((sound(token), position))
            codes.add((sound(core(token)), position))
    return sorted(codes)


def blocking_codes(name: str) -> list[str]:
    return sorted({code for code, _ in indexed_codes(name)})


#: The letters of Metaphone codes ('0' is "th").
_CODE_LETTERS = "0ABEFHIJKLMNOPRSTUWXY"


def near_codes(codes: list[str]) -> list[str]:
    """Every code one edit (a letter dropped, added or changed) from a code of four letters or more: a typo in a
    family name (`Smetramini`, `Setramini`) changes its code, rarely by more. Shorter codes are left alone: one
    edit from `JN` is half the registry."""
    near: set[str] = set()
    for code in codes:
        if len(code) < 4:
            continue
        for i in range(len(code) + 1):
            if i < len(code):
                near.add(code[:i] + code[i + 1:])
            for letter in _CODE_LETTERS:
                near.add(code[:i] + letter + code[i:])
                if i < len(code):
                    near.add(code[:i] + letter + code[i + 1:])
    return sorted(near - set(codes))


@lru_cache(maxsize=262_144)
def token_similarity(left: str, right: str) -> float:
    """Jaro-Winkler (kind to typos) averaged with the Indel ratio (hard on different endings: `Dumont` is not
    `Dumoulin`), on the tokens' cores; two tokens that sound alike are at least `SOUNDS_ALIKE`."""
    if left == right:
        return 1.0
    a, b = core(left), core(right)
    similarity = (JaroWinkler.similarity(a, b) + Indel.normalized_similarity(a, b)) / 2
    if (similarity < SOUNDS_ALIKE and len(sound(a)) >= 3 and sound(a) == sound(b)
            and Indel.normalized_similarity(a, b) >= SOUNDS_ALIKE_SPELLING):
        return SOUNDS_ALIKE
    return similarity


def name_similarity(left: str, right: str) -> float:
    """0 to 1: how alike two names are, whatever their order, spelling, script and particles."""
    a, b = fold(left), fold(right)
    if not a or not b:
        return 0.0
    if "".join(a) == "".join(b):  # only the spacing differs ("Vanden Berghe", "Vandenberghe")
        return 1.0
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    remaining = list(longer)
    total = 0.0
    for token in sorted(shorter, key=len, reverse=True):
        best, best_index = 0.0, -1
        for index, other in enumerate(remaining):
            similarity = token_similarity(token, other)
            if similarity > best:
                best, best_index = similarity, index
        if best < TOKEN_MATCH:
            best = 0.0  # `Jan` is not `Anna`: an unmatched token counts for nothing
        else:
            remaining.pop(best_index)
        total += best
    score = total / len(shorter)
    if len(shorter) == 1:
        return min(score, 0.6)  # one name against a full name: never enough on its own
    return score * (0.85 + 0.15 * len(shorter) / len(longer))  # a middle name costs a little


def _same_birth(left: date, right: date) -> float:
    if left == right:
        return 0.15
    if left.year == right.year and (left.month, left.day) == (right.day, right.month):
        return 0.1  # day and month swapped, as between European and American forms
    same = (left.year == right.year) + (left.month == right.month) + (left.day == right.day)
    return -0.1 if same == 2 else -0.45  # one part mistyped, or another person


def score(sought: Person, candidate: Person, *, namesakes: int = 1) -> float:
    """0 to 1: the chance, roughly, that the candidate is the sought person."""
    names = name_similarity(sought.full_name or "", candidate.full_name or "")
    result = names
    corroborated = False
    if sought.phone and candidate.phone:
        if sought.phone == candidate.phone:
            result = max(result, 0.6) + 0.35
            corroborated = True
        else:
            result -= 0.1
    if sought.date_of_birth and candidate.date_of_birth:
        weight = _same_birth(sought.date_of_birth, candidate.date_of_birth)
        result += weight
        corroborated = corroborated or weight > 0
    if sought.country and candidate.country:
        result += 0.02 if sought.country == candidate.country else -0.15
    if namesakes > COMMON_NAME_PEOPLE and not corroborated:
        result = min(result, THRESHOLD - 0.05)
    return round(max(0.0, min(1.0, result)), 3)
