"""Case officers: who gets a new case (least open cases by post and kind) and the card every message carries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from services.intake.domain.model import Kind

QUALITY_TEAM = "quality"
CONSULAR_TEAM = "consular"


@dataclass(frozen=True)
class Officer:
    officer_id: int
    name: str
    role: str
    phone: str
    email: str
    post_id: str | None = None
    """None for headquarters in Brussels (the case has no post yet, or the post has no officer for the kind)."""
    kinds: frozenset[Kind] = field(default_factory=frozenset)
    """Kinds the officer handles; empty means every kind."""
    team: str = CONSULAR_TEAM
    active: bool = True

    def handles(self, kind: Kind) -> bool:
        return not self.kinds or kind in self.kinds

    def card(self) -> OfficerCard:
        return OfficerCard(name=self.name, role=self.role, phone=self.phone, email=self.email)


@dataclass(frozen=True)
class OfficerCard:
    name: str
    role: str
    phone: str
    email: str

    def one_line(self) -> str:
        return f"{self.name} ({self.role}), {self.phone}, {self.email}"

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "role": self.role, "phone": self.phone, "email": self.email}


class NoOfficer(LookupError):
    """No active officer can take the case."""


def team_for(kind: Kind) -> str:
    """Complaints go to the quality team, everything else to consular officers."""
    return QUALITY_TEAM if kind is Kind.COMPLAINT else CONSULAR_TEAM


def choose_officer(
    officers: Iterable[Officer],
    *,
    kind: Kind,
    post_id: str | None,
    open_cases: Mapping[int, int],
) -> Officer:
    """The officer with the fewest open cases among the best-matching group; ties go to the lowest id.

    Groups tried in order: the team's officers at the case's post handling the kind, then at headquarters
    (post None) handling the kind, then anyone of the team handling the kind. A report is never refused for want
    of the right officer: then any active officer takes it, and with nobody active, the officer it would have gone
    to last (the team lead reassigns it from the board). NoOfficer only when there are no officers at all.
    """
    officers = list(officers)
    team = team_for(kind)
    eligible = [o for o in officers if o.active and o.team == team and o.handles(kind)]
    groups = ([o for o in eligible if post_id is not None and o.post_id == post_id],
              [o for o in eligible if o.post_id is None],
              eligible,
              [o for o in officers if o.active],
              officers)
    for group in groups:
        if group:
            return min(group, key=lambda o: (open_cases.get(o.officer_id, 0), o.officer_id))
    raise NoOfficer(f"no officer at all for {kind}")


def needs_handover(current: Officer, *, post_id: str, candidates: Iterable[Officer], kind: Kind) -> bool:
    """A case routed to a post changes hands when its officer is not at that post and someone there handles it."""
    if current.post_id == post_id:
        return False
    team = team_for(kind)
    return any(o.active and o.team == team and o.handles(kind) and o.post_id == post_id for o in candidates)
