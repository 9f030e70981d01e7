"""Officers and the on-call roster, managed by admins (every change audited), and who is on call now and next.

Routes of an `APIRouter` mounted by `create_app`; they reach the app's resources through `request.app.state`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.encoders import jsonable_encoder
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    model_validator,
)

from services.intake.adapters import staff
from services.intake.deps import Deps
from services.intake.domain.model import Kind
from services.intake.domain.roster import conflicts, next_handover, on_call
from shared.auth import Principal, require_roles
from shared.events.common import E164, JSON_INTEGER, Integer
from shared.http import field_errors
from shared.logging import get_logger
from shared.openapi import not_null
from shared.passwords import hash_password

log = get_logger(__name__)

AdminRole = Annotated[Principal, Depends(require_roles("admin"))]
OnCallReaders = Annotated[Principal, Depends(require_roles("duty_officer", "coordinator", "admin"))]
Name = Annotated[str, Field(min_length=1, max_length=200)]
MAX_ID = 2_147_483_647  # PostgreSQL's int (serial)
RowId = Annotated[int, Field(ge=1, le=MAX_ID), JSON_INTEGER]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
#: How far ahead `GET /v1/on-call` looks for the next handover.
HANDOVER_HORIZON = timedelta(days=62)




class OfficerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    role: Name
    phone: E164
    email: EmailStr
    post_id: Annotated[str | None, Field(min_length=1, max_length=64,
                                         description="the post the officer works at; null: headquarters")] = None
    kinds: list[Kind] = Field(default_factory=list, description="kinds of case handled; empty: every kind")
    team: Literal["consular", "quality"] = "consular"


def _timestamp_text(value: Any) -> Any:
    """A query's instant is RFC 3339 text, as documented: not a number of seconds (pydantic would take `0.5`)."""
    if isinstance(value, str) and not (value[:4].isascii() and value[:4].isdigit() and value[4:5] == "-"):
        raise ValueError("an RFC 3339 timestamp such as 2026-01-31T09:00:00Z")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_timestamp_text)]


class OfficerChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Fields that cannot be null: absent leaves them, null is refused (so the schema does not offer null).
    name: Name | None = Field(default=None, json_schema_extra=not_null)
    role: Name | None = Field(default=None, json_schema_extra=not_null)
    phone: E164 | None = Field(default=None, json_schema_extra=not_null)
    email: EmailStr | None = Field(default=None, json_schema_extra=not_null)
    post_id: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    kinds: list[Kind] | None = Field(default=None, json_schema_extra=not_null)
    team: Literal["consular", "quality"] | None = Field(default=None, json_schema_extra=not_null)


class OfficerOut(BaseModel):
    officer_id: int
    name: str
    role: str
    phone: str
    email: str
    post_id: str | None
    kinds: list[str]
    team: str
    active: bool
    ended_at: datetime | None
    login: str | None = None


class SignInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$", description="the console sign-in name")]
    password: Annotated[str, Field(min_length=12, max_length=200, description="stored as a PBKDF2 hash only")]


class OfficerEnded(OfficerOut):
    open_cases: int = Field(description="cases still assigned to the officer: reassign them")


class EndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str | None, Field(max_length=500)] = None


class RosterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime
    ends_at: AwareDatetime
    officer_id: RowId
    backup_officer_id: RowId | None = None
    precedence: Integer = Field(default=0, ge=0, le=100, description=(
        "which entry wins where entries overlap: the higher; overlapping entries of equal precedence are refused"))
    note: Annotated[str | None, Field(max_length=500)] = None

    @model_validator(mode="after")
    def _consistent(self) -> RosterIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.backup_officer_id is not None and self.backup_officer_id == self.officer_id:
            raise ValueError("backup_officer_id must be another officer than officer_id")
        return self


class RosterChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime | None = Field(default=None, json_schema_extra=not_null)  # absent leaves it
    ends_at: AwareDatetime | None = Field(default=None, json_schema_extra=not_null)
    officer_id: RowId | None = Field(default=None, json_schema_extra=not_null)
    backup_officer_id: RowId | None = None
    precedence: Annotated[int, Field(ge=0, le=100), JSON_INTEGER] | None = Field(default=None,
                                                                             json_schema_extra=not_null)
    note: Annotated[str | None, Field(max_length=500)] = None


class OfficerCard(BaseModel):
    officer_id: int
    name: str
    role: str
    phone: str
    email: str


class RosterOut(BaseModel):
    entry_id: int
    starts_at: datetime
    ends_at: datetime
    precedence: int
    note: str | None
    officer: OfficerCard
    backup: OfficerCard | None


class Handover(BaseModel):
    at: datetime
    entry: RosterOut | None = Field(description="who is on call from `at`; null: nobody (a gap in the roster)")


class OnCallOut(BaseModel):
    at: datetime
    office_hours: bool = Field(description="true: emergencies go to the consular line, not to the roster")
    consular_line: str
    now: RosterOut | None
    next: Handover | None = Field(description=f"the next change within {HANDOVER_HORIZON.days} days, if any")


def _field_error(field: str, rule: str, message: str, status: int = 422) -> HTTPException:
    return HTTPException(status, [{"field": field, "rule": rule, "message": message}])


def _conflict_detail(found: list[Any]) -> list[dict[str, Any]]:
    return [{"field": "precedence", "rule": "no_overlap", "entry_id": e.entry_id,
             "message": f"overlaps roster entry {e.entry_id} ({e.starts_at.isoformat()} to {e.ends_at.isoformat()})"
                        f" at the same precedence {e.precedence}: give a higher precedence to say which wins,"
                        " or change that entry first"} for e in found]


async def _active_officer(conn: asyncpg.Connection, officer_id: int | None, field: str) -> None:
    if officer_id is None:
        return
    officer = await staff.get_officer(conn, officer_id)
    if officer is None:
        raise _field_error(field, "exists", f"no officer {officer_id}")
    if not officer["active"]:
        raise _field_error(field, "active", f"officer {officer_id} has ended")


async def _officer_to_change(conn: asyncpg.Connection, officer_id: int, ended: str = "has ended") -> dict[str, Any]:
    """The officer, locked for the change; 404 when there is none, 409 once they have ended."""
    officer = await staff.get_officer(conn, officer_id, lock=True)
    if officer is None:
        raise HTTPException(404, f"no officer {officer_id}")
    if not officer["active"]:
        raise HTTPException(409, f"officer {officer_id} {ended}")
    return officer


@asynccontextmanager
async def _roster_transaction(deps: Deps) -> AsyncIterator[asyncpg.Connection]:
    """A transaction holding the roster's lock: roster writers one at a time, so that two overlapping entries cannot
    both pass the conflict check."""
    async with deps.pool.acquire() as conn, conn.transaction():
        await staff.lock_roster(conn)
        yield conn


async def _entry_not_over(conn: asyncpg.Connection, entry_id: int, at: datetime, over: str) -> asyncpg.Record:
    """The roster entry; 404 when there is none, 409 when it ends by `at`."""
    row = await staff.roster_row(conn, entry_id)
    if row is None:
        raise HTTPException(404, f"no roster entry {entry_id}")
    if row["ends_at"] <= at:
        raise HTTPException(409, f"roster entry {entry_id} {over}")
    return row


router = APIRouter()

# --- officers ------------------------------------------------------------------------------------------


@router.get("/v1/admin/officers", response_model=list[OfficerOut], tags=["admin"])

async def list_officers(_: AdminRole, deps: Deps, include_ended: bool = False) -> list[dict[str, Any]]:
    async with deps.pool.acquire() as conn:
        return await staff.list_officers(conn, include_ended=include_ended)


@router.post("/v1/admin/officers", response_model=OfficerOut, status_code=201, tags=["admin"])

async def add_officer(body: OfficerIn, principal: AdminRole, deps: Deps) -> dict[str, Any]:
    """An officer. `phone` is a valid E.164 number (libphonenumber) and `email` an address email-validator accepts
    (syntax, no special-use domain such as .test, no DNS lookup); 422 otherwise. E.g. `{"name": "Jan Claes", "role":
    "consul", "phone": "+32470123456", "email": "jan.claes@example.org"}`."""
    values = body.model_dump(mode="json")
    async with deps.pool.acquire() as conn, conn.transaction():
        officer = await staff.add_officer(conn, values)
        await staff.audit(conn, actor=principal.subject, action="officer.add",
                          target=f"officer:{officer['officer_id']}", detail=jsonable_encoder(officer))
    deps.officers.invalidate()
    log.info("officer_added", officer_id=officer["officer_id"])
    return officer


@router.patch("/v1/admin/officers/{officer_id}", response_model=OfficerOut, tags=["admin"],
              responses={409: {"description": "the officer has ended"}})

async def change_officer(officer_id: PathId, body: OfficerChange, principal: AdminRole,
                         deps: Deps) -> dict[str, Any]:
    """Changes the fields given (absent: left as they are; only `post_id` may be null). A `phone` is a valid E.164
    number (libphonenumber), an `email` an address email-validator accepts (syntax, no special-use domain such as .test,
    no DNS lookup); 422 otherwise. E.g. `{"email": "jan.claes@example.org"}`."""
    changes = body.model_dump(mode="json", exclude_unset=True)
    for required in ("name", "role", "phone", "email", "kinds", "team"):
        if required in changes and changes[required] is None:
            raise _field_error(required, "required", f"{required} cannot be null")
    async with deps.pool.acquire() as conn, conn.transaction():
        before = await _officer_to_change(conn, officer_id)
        officer = await staff.change_officer(conn, officer_id, changes) if changes else before
        await staff.audit(conn, actor=principal.subject, action="officer.change", target=f"officer:{officer_id}",
                          detail=jsonable_encoder({"changed": changes, "before": {k: before[k] for k in changes}}))
    deps.officers.invalidate()
    return officer


@router.put("/v1/admin/officers/{officer_id}/sign-in", tags=["admin"],
            responses={409: {"description": "the sign-in name belongs to another officer, or the officer ended"}})

async def set_sign_in(officer_id: PathId, body: SignInIn, principal: AdminRole, deps: Deps) -> dict[str, Any]:
    """The officer's console sign-in (name and password); their console tokens carry the name as subject."""
    encoded = await asyncio.to_thread(hash_password, body.password)
    async with deps.pool.acquire() as conn, conn.transaction():
        await _officer_to_change(conn, officer_id)
        if await staff.login_taken(conn, body.login, officer_id):
            raise HTTPException(409, [{"field": "login", "rule": "unique",
                                       "message": f"{body.login} is another officer's sign-in name"}])
        await staff.set_sign_in(conn, officer_id, body.login, encoded)
        await staff.audit(conn, actor=principal.subject, action="officer.sign_in", target=f"officer:{officer_id}",
                          detail={"login": body.login})  # never the password or its hash
    return {"officer_id": officer_id, "login": body.login}


@router.post("/v1/admin/officers/{officer_id}/end", response_model=OfficerEnded, tags=["admin"],
             responses={409: {"description": "already ended, or still on the roster"}})

async def end_officer(officer_id: PathId, principal: AdminRole, deps: Deps,
                      body: EndIn | None = None) -> dict[str, Any]:
    """The officer stops taking new cases; refused while they are on a roster entry not yet over."""
    at = deps.now()
    async with _roster_transaction(deps) as conn:
        await _officer_to_change(conn, officer_id, ended="has already ended")
        entries = await staff.future_entries_of(conn, officer_id, at)
        if entries:
            raise HTTPException(409, [{"field": "officer_id", "rule": "on_roster", "entry_ids": entries,
                                       "message": f"officer {officer_id} is on roster entries {entries}: "
                                                  "end or change them first"}])
        officer = await staff.end_officer(conn, officer_id, at)
        open_cases = await staff.open_cases_of(conn, officer_id)
        await staff.audit(conn, actor=principal.subject, action="officer.end", target=f"officer:{officer_id}",
                          detail={"reason": body.reason if body else None, "open_cases": open_cases})
    deps.officers.invalidate()
    return {**officer, "open_cases": open_cases}

# --- roster --------------------------------------------------------------------------------------------


@router.get("/v1/admin/roster", response_model=list[RosterOut], tags=["admin"])

async def list_roster(_: AdminRole, deps: Deps,
                      from_: Annotated[Instant | None, Query(alias="from", description=(
                          "entries ending after this instant (default: now)"))] = None,
                      to: Annotated[Instant | None, Query(description=(
                          "entries starting before this instant (default: no limit)"))] = None,
                      ) -> list[dict[str, Any]]:
    async with deps.pool.acquire() as conn:
        rows = await staff.roster_between(conn, from_ or deps.now(), to)
    return [staff.roster_view(r) for r in rows]


async def checked_write(conn: asyncpg.Connection, values: dict[str, Any], *, entry_id: int | None) -> None:
    await _active_officer(conn, values["officer_id"], "officer_id")
    await _active_officer(conn, values["backup_officer_id"], "backup_officer_id")
    overlapping = await staff.roster_between(conn, values["starts_at"], values["ends_at"])
    found = conflicts([staff.roster_entry(r) for r in overlapping], starts_at=values["starts_at"],
                      ends_at=values["ends_at"], precedence=values["precedence"], ignore_id=entry_id)
    if found:
        raise HTTPException(409, _conflict_detail(found))


@router.post("/v1/admin/roster", response_model=RosterOut, status_code=201, tags=["admin"],
             responses={409: {"description": "overlaps an entry of the same precedence (named)"}})

async def add_entry(body: RosterIn, principal: AdminRole, deps: Deps) -> dict[str, Any]:
    """A roster entry. `ends_at` comes after `starts_at` and the backup is another officer than the one on
    call (422 otherwise, which JSON Schema cannot say); e.g. `{"starts_at": "2026-01-05T08:00:00Z",
    "ends_at": "2026-01-12T08:00:00Z", "officer_id": 1, "backup_officer_id": 2}`."""
    values = body.model_dump()
    async with _roster_transaction(deps) as conn:
        await checked_write(conn, values, entry_id=None)
        entry_id = await staff.add_roster_entry(conn, values)
        await staff.audit(conn, actor=principal.subject, action="roster.add", target=f"roster:{entry_id}",
                          detail=jsonable_encoder(values))
        row = await staff.roster_row(conn, entry_id)
    assert row is not None
    return staff.roster_view(row)


@router.patch("/v1/admin/roster/{entry_id}", response_model=RosterOut, tags=["admin"],
              responses={409: {"description": "overlaps an entry of the same precedence, or is over"}})

async def change_entry(entry_id: PathId, body: RosterChange, principal: AdminRole,
                       deps: Deps) -> dict[str, Any]:
    """Changes the fields given of an entry not yet over (409 once it is); an absent field is left as it was.
    The entry as changed must be one `POST /v1/admin/roster` takes: `starts_at`, `ends_at`, `officer_id` and
    `precedence` cannot be null; `ends_at` after `starts_at`; the backup another officer than the one on call;
    both officers exist and have not ended (422 otherwise, naming the field); no overlap with an entry of the same
    precedence (409). E.g. `{"ends_at": "2026-01-12T08:00:00Z", "backup_officer_id": 2}`."""
    changes = body.model_dump(exclude_unset=True)
    for required in ("starts_at", "ends_at", "officer_id", "precedence"):
        if required in changes and changes[required] is None:
            raise _field_error(required, "required", f"{required} cannot be null")
    async with _roster_transaction(deps) as conn:
        row = await _entry_not_over(conn, entry_id, deps.now(), "is over: add a new one")
        before = {"starts_at": row["starts_at"], "ends_at": row["ends_at"], "officer_id": row["officer_id"],
                  "backup_officer_id": row["backup_officer_id"], "precedence": row["precedence"],
                  "note": row["note"]}
        values = {**before, **changes}
        try:
            RosterIn(**values)
        except ValidationError as exc:
            raise HTTPException(422, field_errors(list(exc.errors()))) from None
        await checked_write(conn, values, entry_id=entry_id)
        await staff.change_roster_entry(conn, entry_id, values)
        await staff.audit(conn, actor=principal.subject, action="roster.change", target=f"roster:{entry_id}",
                          detail=jsonable_encoder({"changed": changes, "before": {k: before[k] for k in changes}}))
        changed = await staff.roster_row(conn, entry_id)
    assert changed is not None
    return staff.roster_view(changed)


@router.post("/v1/admin/roster/{entry_id}/end", tags=["admin"],
             responses={409: {"description": "the entry is already over"}})

async def end_entry(entry_id: PathId, principal: AdminRole, deps: Deps,
                    body: EndIn | None = None) -> dict[str, Any]:
    """Ends a running entry now; an entry not yet started is withdrawn (deleted, with its audit kept)."""
    at = deps.now()
    async with _roster_transaction(deps) as conn:
        row = await _entry_not_over(conn, entry_id, at, "is already over")
        withdrawn = row["starts_at"] > at
        if withdrawn:
            await staff.delete_roster_entry(conn, entry_id)
        else:
            await staff.cut_roster_entry(conn, entry_id, at)
        await staff.audit(conn, actor=principal.subject, action="roster.end", target=f"roster:{entry_id}",
                          detail=jsonable_encoder({"withdrawn": withdrawn, "at": at,
                                                   "entry": staff.roster_view(row),
                                                   "reason": body.reason if body else None}))
    return {"entry_id": entry_id, "withdrawn": withdrawn, "ended_at": None if withdrawn else at}


@router.get("/v1/admin/audit", tags=["admin"])

async def staff_audit(_: AdminRole, deps: Deps,
                      target: Annotated[str | None, Query(pattern=r"^(officer|roster):\d+$")] = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                      before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description=(
                          "Only entries older than this one (an entry's `id`, or `next_before`)."))] = None,
                      ) -> dict[str, Any]:
    """Changes to officers and the roster, newest first: who, when, what; `next_before` (null: no more) as
    `before` gives the next page."""
    async with deps.pool.acquire() as conn:
        entries = await staff.audit_entries(conn, target=target, limit=limit + 1, before=before)
    return {"entries": entries[:limit], "next_before": entries[limit - 1]["id"] if len(entries) > limit else None}


@router.get("/v1/officers", response_model=list[OfficerOut], tags=["on-call"])

async def active_officers(_: OnCallReaders, deps: Deps) -> list[dict[str, Any]]:
    """The officers who can take a case (for reassignment): staff work contacts only."""
    async with deps.pool.acquire() as conn:
        return await staff.list_officers(conn, include_ended=False)

# --- who is on call ------------------------------------------------------------------------------------


@router.get("/v1/on-call", response_model=OnCallOut, tags=["on-call"])

async def who_is_on_call(_: OnCallReaders, deps: Deps) -> dict[str, Any]:
    """Who answers emergency calls outside office hours now, and who takes over next."""
    at = deps.now()
    async with deps.pool.acquire() as conn:
        rows = await staff.roster_between(conn, at, at + HANDOVER_HORIZON)
    by_id = {r["id"]: staff.roster_view(r) for r in rows}
    entries = [staff.roster_entry(r) for r in rows]
    current = on_call(entries, at)
    handover = next_handover(entries, at)
    if handover is not None and handover.at > at + HANDOVER_HORIZON:
        handover = None  # entries starting beyond the horizon were not read: a later change is not known
    return {"at": at, "office_hours": deps.office_hours.open_at(at), "consular_line": deps.settings.consular_line,
            "now": by_id[current.entry_id] if current and current.entry_id is not None else None,
            "next": None if handover is None else {
                "at": handover.at,
                "entry": by_id.get(handover.entry.entry_id) if handover.entry and handover.entry.entry_id
                is not None else None}}
