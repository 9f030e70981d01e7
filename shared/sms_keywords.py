"""Opt-out and opt-in keywords of inbound SMS, in the four languages and Twilio's own defaults: the notifier reads them
on its sender number, intake on the duty line (which then tells the notifier, `SmsPreference`)."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

OPT_OUT_KEYWORDS = frozenset({
    # Twilio's defaults (English)
    "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE",
    # French (ARRÊT is matched once accents are dropped)
    "ARRET", "ARRETER", "DESABONNER", "DESINSCRIRE",
    # Dutch
    "STOPPEN", "AFMELDEN", "UITSCHRIJVEN",
    # German
    "HALT", "STOPP", "ABMELDEN", "ABBESTELLEN", "ENDE",
})
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES", "DEMARRER", "OUI", "JA", "AANMELDEN", "ANMELDEN"})


class Keyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


def normalise(body: str) -> str:
    """Upper case, accents dropped, surrounding spaces and punctuation stripped: ' Arrêt! ' -> 'ARRET'."""
    decomposed = unicodedata.normalize("NFKD", body)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.strip().strip(".!?,;:'\"()[] \t\r\n").upper()


def classify(body: str) -> Keyword | None:
    """Like Twilio, a keyword counts only when it is the whole message (a sentence with 'stop' in it does not)."""
    word = re.sub(r"[\s\-_]+", "", normalise(body))
    if word in OPT_OUT_KEYWORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_KEYWORDS:
        return Keyword.OPT_IN
    return None
