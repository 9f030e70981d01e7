"""Inbound SMS: the kind of case from keywords in four languages, and the sender's language from the words.

Words are compared without accents and case (`volé`, `vole`, `VOLÉ` are the same) and by prefix (`arrest`
matches `arrested` and `arrestation`), since SMS are typed in haste.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from services.intake.domain import texts
from services.intake.domain.model import Kind, Language

_EN, _FR, _NL, _DE = Language.EN, Language.FR, Language.NL, Language.DE

# kind -> (stem, language of the stem or None when shared by several languages)
_KEYWORDS: Mapping[Kind, tuple[tuple[str, Language | None], ...]] = {
    Kind.DETENTION: (
        ("arrested", _EN), ("arrest", _EN), ("detained", _EN), ("jail", _EN), ("prison", None), ("custody", _EN),
        ("arrete", _FR), ("arrestation", _FR), ("detenu", _FR), ("garde a vue", _FR),
        ("gearresteerd", _NL), ("aangehouden", _NL), ("opgepakt", _NL), ("gevangenis", _NL),
        ("verhaftet", _DE), ("verhaftung", _DE), ("festgenommen", _DE), ("gefangnis", _DE), ("haft", _DE),
    ),
    Kind.MISSING_PERSON: (
        ("missing", _EN), ("disappeared", _EN), ("no news", _EN),
        ("disparu", _FR), ("disparition", _FR), ("sans nouvelles", _FR),
        ("vermist", _NL), ("verdwenen", _NL), ("geen nieuws", _NL),
        ("vermisst", _DE), ("verschwunden", _DE), ("keine nachricht", _DE),
    ),
    Kind.LOST_DOCUMENT: (
        ("passport", _EN), ("lost", _EN), ("stolen", _EN), ("identity card", _EN), ("id card", _EN),
        ("passeport", _FR), ("perdu", _FR), ("vole", _FR), ("carte d'identite", _FR),
        ("paspoort", _NL), ("verloren", None), ("gestolen", _NL), ("identiteitskaart", _NL),
        ("reisepass", _DE), ("pass", _DE), ("gestohlen", _DE), ("personalausweis", _DE), ("ausweis", _DE),
    ),
    Kind.COMPLAINT: (
        ("complaint", _EN), ("complain", _EN), ("plainte", _FR), ("reclamation", _FR),
        ("klacht", _NL), ("beschwerde", _DE),
    ),
    Kind.INFORMATION_REQUEST: (
        ("information", None), ("question", None), ("renseignement", _FR), ("inlichting", _NL),
        ("vraag", _NL), ("auskunft", _DE), ("frage", _DE), ("visa", None), ("visum", None),
    ),
}
# The first kind whose keywords appear wins: a detention mentioning a passport is a detention.
PRIORITY: tuple[Kind, ...] = (Kind.DETENTION, Kind.MISSING_PERSON, Kind.LOST_DOCUMENT, Kind.COMPLAINT,
                              Kind.INFORMATION_REQUEST)

# Frequent function words that tell the languages apart (words shared by two languages are left out).
def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


_FUNCTION_WORDS: Mapping[Language, frozenset[str]] = {
    _EN: _vocabulary("the my i am and has have been please our daughter with from need"),
    _FR: _vocabulary("le la les je mon ma mes est suis et ai ete aide svp fille avec pour un une nous notre "
                     "j'ai c'est besoin"),
    _NL: _vocabulary("het een ik mijn ben niet heb hulp zoon dochter voor wij onze ons alstublieft aub nodig"),
    _DE: _vocabulary("der das ich mein meine ist bin und nicht habe hilfe sohn tochter mit fur wir unser bitte "
                     "ein eine brauche"),
}
_WORD = re.compile(r"[a-z0-9']+")


def fold(text: str) -> str:
    """Lower case without accents: `Gefängnis` -> `gefangnis`, `Volé` -> `vole`."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("\u2019", "'")


def _words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def _matches(stem: str, words: list[str], folded: str) -> bool:
    if " " in stem or "'" in stem:
        return stem in folded
    return any(w.startswith(stem) for w in words) if len(stem) > 4 else stem in words


@dataclass(frozen=True)
class Classification:
    kind: Kind
    language: Language
    keywords: tuple[str, ...]


def classify(text: str) -> Classification:
    """The kind (else serious_difficulty) and the language (else English) of an SMS."""
    words = _words(text)
    folded = " ".join(words)
    hits: dict[Kind, list[tuple[str, Language | None]]] = {}
    for kind, stems in _KEYWORDS.items():
        for stem, language in stems:
            if _matches(stem, words, folded):
                hits.setdefault(kind, []).append((stem, language))
    kind = next((k for k in PRIORITY if k in hits), Kind.SERIOUS_DIFFICULTY)
    keyword_languages = [lang for found in hits.values() for _, lang in found if lang is not None]
    return Classification(kind=kind, language=guess_language(words, keyword_languages),
                          keywords=tuple(stem for found in hits.values() for stem, _ in found))


def guess_language(words: list[str], keyword_languages: list[Language] | None = None) -> Language:
    """Score each language by its function words (1 each) and its keywords (2 each); ties and silence: English."""
    scores = {lang: sum(1 for w in words if w in vocabulary) for lang, vocabulary in _FUNCTION_WORDS.items()}
    for lang in keyword_languages or []:
        scores[lang] += 2
    best = max(scores.values())
    if best == 0:
        return Language.EN
    leaders = [lang for lang, score in scores.items() if score == best]
    return Language.EN if len(leaders) > 1 and Language.EN in leaders else leaders[0]


def new_case_reply(language: Language, reference: str) -> str:
    return texts.render(texts.SMS_NEW_CASE, language, reference=reference)


def appended_reply(language: Language, reference: str) -> str:
    return texts.render(texts.SMS_APPENDED, language, reference=reference)


_QUOTED_REFERENCE = re.compile(r"\bBE[\s\-_]?(\d{4})[\s\-_]?(\d{6})\b", re.IGNORECASE)


def quoted_reference(body: str) -> str | None:
    """A case reference quoted in a message (`BE-2026-000123`, also typed `be 2026 000123` or `BE2026000123`)."""
    match = _QUOTED_REFERENCE.search(body)
    return f"BE-{match.group(1)}-{match.group(2)}" if match else None


# The language of an opt-out or opt-in word, for the confirmation (Twilio's English words and the shared STOP: EN).
_KEYWORD_LANGUAGE: Mapping[str, Language] = {
    "ARRET": _FR, "ARRETER": _FR, "DESABONNER": _FR, "DESINSCRIRE": _FR, "DEMARRER": _FR, "OUI": _FR,
    "STOPPEN": _NL, "AFMELDEN": _NL, "UITSCHRIJVEN": _NL, "AANMELDEN": _NL, "JA": _NL,
    "HALT": _DE, "STOPP": _DE, "ABMELDEN": _DE, "ABBESTELLEN": _DE, "ENDE": _DE, "ANMELDEN": _DE,
}


def keyword_language(word: str) -> Language:
    return _KEYWORD_LANGUAGE.get(word, _EN)
