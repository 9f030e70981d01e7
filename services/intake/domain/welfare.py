"""Reading an answer to "are you safe?": `1` or a safe word, `2` or a help word, anything else unclear.

Only a message from a number with an open question is read this way (intake knows the question from
`welfare.questions`); a message that says both, or negates (`not safe`, `pas en sécurité`, `niet veilig`,
`nicht sicher`), is unclear and goes to an officer rather than being guessed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

WelfareAnswer = Literal["safe", "needs_help", "unclear"]

SAFE_WORDS = frozenset({
    "1", "safe", "ok", "okay", "fine", "well",  # en
    "sauf", "saine", "securite", "bien", "va",  # fr: sain et sauf, en sécurité, ça va bien
    "veilig", "goed", "oke", "prima",  # nl
    "sicher", "sicherheit", "gut", "alles",  # de: in Sicherheit, alles gut
})
HELP_WORDS = frozenset({
    "2", "help", "sos", "emergency", "injured",  # en
    "aide", "secours", "urgence", "blesse", "blessee",  # fr
    "hulp", "nood", "gewond",  # nl
    "hilfe", "notfall", "verletzt",  # de
})
NEGATIONS = frozenset({"not", "no", "pas", "ne", "niet", "geen", "nicht", "kein", "keine", "nein", "non"})


def words(text: str) -> list[str]:
    """Lower case, accents and punctuation removed: `Ça va, en sécurité!` -> ['ca', 'va', 'en', 'securite']."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.findall(r"[a-z0-9]+", plain.replace("'", " "))


def read_answer(text: str) -> WelfareAnswer:
    found = words(text)
    if not found:
        return "unclear"
    first = found[0]
    if first in ("1", "2") and all(not w.isdigit() for w in found[1:]):
        return "safe" if first == "1" else "needs_help"
    if any(w in NEGATIONS for w in found):
        return "unclear"
    safe = any(w in SAFE_WORDS for w in found)
    help_ = any(w in HELP_WORDS for w in found)
    if safe == help_:  # both or neither
        return "unclear"
    return "safe" if safe else "needs_help"
