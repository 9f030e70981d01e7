"""SMS encoding: GSM-7 (3GPP TS 23.038 default alphabet) or UCS-2, and the number of segments.

A single GSM-7 message holds 160 septets, a concatenated one 153 per segment (the user data header takes 7);
UCS-2 holds 70 UTF-16 code units, 67 per segment. Characters of the GSM-7 extension table are sent as an
escape plus the character and so count double; an escape pair is never split between two segments, nor is a
UTF-16 surrogate pair.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

SINGLE_GSM7, MULTI_GSM7 = 160, 153
SINGLE_UCS2, MULTI_UCS2 = 70, 67

# Typographic characters with a faithful GSM-7 equivalent. Letters are never changed (ARRÊT stays ARRÊT): a text
# that needs them goes as UCS-2.
_GSM7_SUBSTITUTES = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ", "\t": " ",
    "\u2022": "-", "\u00b7": ".",
}


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True)
class SmsInfo:
    encoding: Encoding
    units: int
    """Septets for GSM-7, UTF-16 code units for UCS-2."""
    segments: int


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def to_gsm7_where_possible(text: str) -> str:
    """Replace typographic punctuation by its GSM-7 twin; NFC first so that 'e' + combining accent becomes 'é'."""
    text = unicodedata.normalize("NFC", text)
    return "".join(_GSM7_SUBSTITUTES.get(c, c) for c in text)


def tidy_sms(text: str) -> str:
    """The SMS as it is sent: NFC, whitespace collapsed per line, empty lines dropped, typographic punctuation as
    its GSM-7 twin (the notifier renders with it; the crisis center's send planner counts with it)."""
    lines = (" ".join(line.split()) for line in text.strip().splitlines())
    return to_gsm7_where_possible("\n".join(line for line in lines if line))


def _segments(costs: list[int], single: int, multi: int) -> int:
    total = sum(costs)
    if total <= single:
        return 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments += 1
            used = 0
        used += cost
    return segments


def analyse(text: str) -> SmsInfo:
    """Encoding, length in units and number of segments of `text` as it would be sent."""
    if not text:
        return SmsInfo(Encoding.GSM7, 0, 1)
    if is_gsm7(text):
        costs = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return SmsInfo(Encoding.GSM7, sum(costs), _segments(costs, SINGLE_GSM7, MULTI_GSM7))
    costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return SmsInfo(Encoding.UCS2, sum(costs), _segments(costs, SINGLE_UCS2, MULTI_UCS2))
