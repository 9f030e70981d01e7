"""Place names: folding, the runs of words of a message, and the index of cities by (country, name)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from shared.gazetteer.cities import City

_NOT_WORD = re.compile(r"[\W_]+")


def fold(text: str, *, keep_punctuation: bool = False) -> str:
    """Case- and accent-insensitive form of a place name, its words separated by one space (`São Paulo` ->
    `sao paulo`, `Lomé` -> `lome`).

    By default any run of characters other than letters and digits separates words (`St. Gallen` == `St Gallen`,
    `N'Djamena` == `N Djamena`): right for Latin-script names, where punctuation is noise.

    `keep_punctuation` only turns hyphens into spaces and keeps the rest. It is for indexes of names in every
    script, on purpose: there punctuation tells names apart (the pinyin apostrophe of `Xi'an` or `Tai'an`, the
    Persian zero-width non-joiner), and the default would also cut words at the spacing vowel signs of Indic
    scripts. Folding the every-script index the default way would send 42 GeoNames names (of cities of 15,000
    people or more) to another city."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    if keep_punctuation:
        return " ".join(plain.replace("-", " ").split())
    return _NOT_WORD.sub(" ", plain).strip()


def phrases(text: str) -> Iterator[str]:
    """Every run of consecutive words, longest first: 'thamel kathmandu' -> the pair, 'thamel', 'kathmandu'."""
    parts = text.replace(",", " ").split()
    for size in range(len(parts), 0, -1):
        for start in range(len(parts) - size + 1):
            yield " ".join(parts[start:start + size])


def is_latin(text: str) -> bool:
    """Names written in Latin script: those in which French, Dutch, German and English name a city."""
    decomposed = unicodedata.normalize("NFKD", text)
    return all(ord(ch) < 0x250 or unicodedata.combining(ch) or ch in "\u2019\u02bc" for ch in decomposed)


@dataclass(frozen=True, slots=True)
class NamePolicy:
    """Which names a `NameIndex` holds and which city a name shared by several cities stands for."""

    latin_only: bool  # alternate names in Latin script only (the main name is always indexed)
    main_name_first: bool  # a city's main name wins over another city's alternate name, then population
    keep_punctuation: bool  # see `fold`


#: Names in every script, folded keeping punctuation; the most populous city wins (first one on a tie). For
#: check-ins and reports typed by anyone, in the script of the country.
EVERY_SCRIPT = NamePolicy(latin_only=False, main_name_first=False, keep_punctuation=True)
#: Latin-script names, punctuation-insensitive; a main name wins over an alternate name, then population. For
#: the directory, queried in French, Dutch, German and English (`Anvers`, `Antwerpen`, `Antwerp`).
LATIN_SCRIPT = NamePolicy(latin_only=True, main_name_first=True, keep_punctuation=False)


class NameIndex:
    """(country, folded name) -> city. A name that folds to nothing (GeoNames has empty alternate names) is not
    indexed, so a query of only punctuation finds no city."""

    def __init__(self, policy: NamePolicy) -> None:
        self.policy = policy
        self._by_name: dict[tuple[str, str], City] = {}

    def fold(self, name: str) -> str:
        return fold(name, keep_punctuation=self.policy.keep_punctuation)

    def add(self, city: City, alternate_names: Iterable[str]) -> None:
        policy = self.policy
        alternates = (n for n in alternate_names if is_latin(n)) if policy.latin_only else alternate_names
        for name in {city.name, *alternates}:
            key = (city.country, self.fold(name))
            if not key[1]:
                continue
            current = self._by_name.get(key)
            if current is None:
                self._by_name[key] = city
            elif policy.main_name_first:
                if (name == city.name, city.population) > (current.name == name, current.population):
                    self._by_name[key] = city
            elif current.population < city.population:
                self._by_name[key] = city

    def find(self, country: str, name: str) -> City | None:
        """The city of that name in `country` (an upper-case ISO code, as the cities carry it)."""
        return self._by_name.get((country, self.fold(name)))
