"""The set of people affected by one incident, counted once whatever the number of records about them.

Records (contributions) that share an identifier belong to the same person: people are the connected
components of the graph "shares an identifier". Adding a record merges components; removing one may split its
component, which is then recomputed (only that component). Re-applying the same record is a no-op, so
duplicated events change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .people import SOURCES, Contribution, Source


@dataclass(frozen=True, slots=True)
class Change:
    """What one operation did: whether anything changed, and whether it created a person not seen before."""

    changed: bool
    count_before: int
    count_after: int


class AffectedSet:
    def __init__(self, contributions: Iterable[Contribution] = ()) -> None:
        self._records: dict[str, Contribution] = {}
        self._by_identifier: dict[str, set[str]] = {}
        self._person_of: dict[str, int] = {}
        self._people: dict[int, set[str]] = {}
        self._next_person = 0
        # People known through at least one record of each source, kept as records come and go: read for every
        # event of an active crisis, it must not cost a pass over 100,000 people (issue 26).
        self._by_source: dict[Source, int] = dict.fromkeys(SOURCES, 0)
        for contribution in contributions:
            self.upsert(contribution)

    # queries -------------------------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return len(self._people)

    def counts_by_source(self) -> dict[Source, int]:
        """People known through at least one record of each source (a person may be in both)."""
        return dict(self._by_source)

    def __contains__(self, contribution_id: object) -> bool:
        return contribution_id in self._records

    def __len__(self) -> int:
        return len(self._records)

    def contribution_ids(self) -> frozenset[str]:
        return frozenset(self._records)

    def contribution(self, contribution_id: str) -> Contribution | None:
        return self._records.get(contribution_id)

    def same_person(self, contribution_id: str) -> frozenset[str]:
        """The ids of every record about the person of this record (itself included); empty if unknown."""
        person = self._person_of.get(contribution_id)
        return frozenset(self._people[person]) if person is not None else frozenset()

    def people(self) -> Iterator[frozenset[str]]:
        for members in self._people.values():
            yield frozenset(members)

    # updates -------------------------------------------------------------------------------------------------
    def upsert(self, contribution: Contribution) -> Change:
        before = self.count
        known = self._records.get(contribution.contribution_id)
        if known == contribution:
            return Change(False, before, before)
        if known is not None:
            self._remove(known.contribution_id)
        self._add(contribution)
        return Change(True, before, self.count)

    def remove(self, contribution_id: str) -> Change:
        before = self.count
        if contribution_id not in self._records:
            return Change(False, before, before)
        self._remove(contribution_id)
        return Change(True, before, self.count)

    def _add(self, contribution: Contribution) -> None:
        cid = contribution.contribution_id
        self._records[cid] = contribution
        touched: set[int] = set()
        for ident in contribution.identifiers:
            holders = self._by_identifier.setdefault(ident, set())
            touched.update(self._person_of[h] for h in holders)
            holders.add(cid)
        if not touched:
            person = self._new_person({cid})
        else:
            for merged in touched:
                self._tally(merged, -1)
            # Merge into the largest touched person: fewer re-labels.
            person = max(touched, key=lambda p: len(self._people[p]))
            for other in touched - {person}:
                for member in self._people.pop(other):
                    self._person_of[member] = person
                    self._people[person].add(member)
            self._people[person].add(cid)
            self._tally(person, +1)
        self._person_of[cid] = person

    def _remove(self, cid: str) -> None:
        self._tally(self._person_of[cid], -1)
        contribution = self._records.pop(cid)
        person = self._person_of.pop(cid)
        for ident in contribution.identifiers:
            holders = self._by_identifier[ident]
            holders.discard(cid)
            if not holders:
                del self._by_identifier[ident]
        remaining = self._people.pop(person)
        remaining.discard(cid)
        # The person may split in two or more now: recompute the components of what is left.
        while remaining:
            start = remaining.pop()
            component = {start}
            frontier = [start]
            while frontier:
                current = frontier.pop()
                for ident in self._records[current].identifiers:
                    for neighbour in self._by_identifier[ident]:
                        if neighbour not in component:
                            component.add(neighbour)
                            frontier.append(neighbour)
            remaining -= component
            new_person = self._new_person(component)
            for member in component:
                self._person_of[member] = new_person

    def _new_person(self, members: set[str]) -> int:
        person = self._next_person
        self._next_person += 1
        self._people[person] = set(members)
        self._tally(person, +1)
        return person

    def _tally(self, person: int, sign: int) -> None:
        """Count (+1) or uncount (-1) one person in the people-by-source figures."""
        for source in {self._records[m].source for m in self._people[person]}:
            self._by_source[source] += sign
