"""The directory's routing of a case: the post is attached, and an officer there takes the case over (handover) when
there is one.
"""

from __future__ import annotations

import asyncpg

from services.intake.adapters import repository
from services.intake.adapters.officer_cache import OfficerCache
from services.intake.domain.model import Kind
from services.intake.domain.officers import choose_officer, needs_handover
from shared.events.directory import CaseRouted


async def case_routed(data: CaseRouted, conn: asyncpg.Connection, *, officers: OfficerCache) -> None:
    """The directory's routing attaches the post; an officer there takes over (handover) when there is one."""
    post = data.post.model_dump(mode="json") if data.post else None
    row = await repository.attach_post(conn, data.reference, post)
    if row is None:
        return  # a case of another intake deployment (or schema)
    await repository.add_history_note(conn, data.reference, actor="directory",
                                      note=f"routed to post {post['post_id']} ({data.basis})" if post
                                      else "no post found")
    if post is None:
        return
    current = await repository.officer(conn, row["officer_id"])
    candidates = await repository.officers(conn)  # fresh: a routing is rare, and officers may have just changed
    kind = Kind(row["kind"])
    if current is None or not needs_handover(current, post_id=post["post_id"], candidates=candidates, kind=kind):
        return
    counts = await repository.open_case_counts(conn)
    new = choose_officer(candidates, kind=kind, post_id=post["post_id"], open_cases=counts)
    await repository.reassign(conn, data.reference, new.officer_id)
    await repository.add_history_note(conn, data.reference, actor="intake",
                                      note=f"handover from officer {current.officer_id} to {new.officer_id}")
    officers.released(current.officer_id)
