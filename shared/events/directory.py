"""Internal topics of the directory: `directory.routings` (key reference) and `directory.posts` (compacted)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, Field

from shared.events.common import CountryCode, WireModel
from shared.events.envelope import EventData

ROUTINGS_TOPIC = "directory.routings"
POSTS_TOPIC = "directory.posts"

#: The contract's four bases, and `nearest_post` (our addition): the last resort, the nearest Belgian post.
Basis = Literal["resident", "consular_jurisdiction", "side_accreditation", "eu_member_state", "nearest_post"]


class PostSummary(WireModel):
    post_id: str
    name: str
    type: str
    city: str
    country: CountryCode
    phone: str | None = None
    email: str | None = None


class CaseRouted(EventData):
    """The post responsible for a case, as the directory resolved it."""

    TYPE: ClassVar[str] = "be.diplomatie.case.routed"
    TOPIC: ClassVar[str] = ROUTINGS_TOPIC
    KEY_FIELD: ClassVar[str] = "reference"

    reference: str = Field(min_length=1)
    service: str
    post: PostSummary | None
    basis: Basis | None
    eu_member_state: CountryCode | None = None
    distance_km: float | None = None
    resolved_at: AwareDatetime


class PostChanged(EventData):
    """A post's current state after a change by an admin or coordinator (the full post, for compaction)."""

    TYPE: ClassVar[str] = "be.diplomatie.post.changed"
    TOPIC: ClassVar[str] = POSTS_TOPIC
    KEY_FIELD: ClassVar[str] = "post_id"

    post_id: str
    change: str
    post: dict[str, Any]
    changed_by: str
    at: AwareDatetime
