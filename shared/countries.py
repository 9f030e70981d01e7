"""ISO 3166-1 alpha-2 country codes as the services accept them, for schemas (no web framework needed: the
domain models of the services use it)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pycountry


def _any_case(text: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in text)


def country_pattern(*, exclude: Iterable[str] = (), padded: bool = False) -> str:
    """A pattern of exactly the ISO 3166-1 alpha-2 codes pycountry knows, plus XK (Kosovo), in any case:
    what the services accept. `exclude` leaves codes out (the directory answers only for abroad: not BE);
    `padded` allows surrounding white space (for fields the service strips)."""
    left_out = {code.upper() for code in exclude}
    codes = sorted(({country.alpha_2 for country in pycountry.countries} | {"XK"}) - left_out)
    by_first: dict[str, list[str]] = {}
    for code in codes:
        by_first.setdefault(code[0], []).append(code[1])
    alternatives = "|".join(f"{_any_case(first)}[{''.join(s + s.lower() for s in seconds)}]"
                            for first, seconds in sorted(by_first.items()))
    space = r"\s*" if padded else ""
    return f"^{space}(?:{alternatives}){space}$"
