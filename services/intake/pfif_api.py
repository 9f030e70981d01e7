"""PFIF 1.4 over HTTP (contract version 2): `GET /v1/pfif?crisis_id=` and `POST /v1/pfif`, for coordinators and
external systems (the Red Cross's family links, another country's Person Finder)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from services.intake.deps import Deps
from services.intake.domain.pfif import PfifError, parse
from services.intake.pfif_exchange import PfifConfig, export_crisis, import_document
from services.intake.settings import Settings
from shared.auth import Principal, require_roles
from shared.logging import get_logger

log = get_logger(__name__)

Exchangers = Annotated[Principal, Depends(require_roles("coordinator", "external_system"))]
CrisisId = Annotated[str, Query(min_length=1, max_length=200)]
XML_TYPES = ("application/xml", "text/xml")

_PFIF_XML = {"application/xml": {"schema": {"type": "string", "description": "a PFIF 1.4 document"}}}
_IMPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "malformed, hostile (DTD, entities, external references) or not PFIF 1.4; nothing "
                         "written"},
    413: {"description": "larger than PFIF_MAX_BYTES"},
    415: {"description": "not XML (Content-Type application/xml or text/xml)"},
}


def _config(settings: Settings) -> PfifConfig:
    return PfifConfig(domain=settings.pfif_domain, source_name=settings.pfif_source_name, source=settings.source,
                      topic_prefix=settings.kafka_topic_prefix)


router = APIRouter(tags=["families (PFIF 1.4)"])



@router.get("/v1/pfif", response_class=Response, responses={200: {"content": _PFIF_XML}})
async def export(crisis_id: CrisisId, principal: Exchangers, deps: Deps) -> Response:
    """The crisis's people as a PFIF 1.4 document: each person a family seeks (information_sought), each
    person imported from another organisation with their notes, each person who answered a welfare question
    (their own latest answer). Each missing-person case exported is recorded in the read audit."""
    async with deps.pool.acquire() as conn, conn.transaction():
        document = await export_crisis(conn, crisis_id, config=_config(deps.settings), actor=principal.subject,
                                       roles=sorted(principal.roles))
    log.info("pfif_exported", crisis_id=crisis_id, size=len(document))
    return Response(document, media_type="application/xml")

@router.post("/v1/pfif", responses=_IMPORT_ERRORS,
             openapi_extra={"requestBody": {"required": True, "content": _PFIF_XML}})
async def import_(request: Request, _: Exchangers, deps: Deps,
                  crisis_id: Annotated[str | None, Query(min_length=1, max_length=200, description=(
                      "the crisis the persons are sought in (their counts on the dashboard)"))] = None,
                  ) -> dict[str, Any]:
    """Another organisation's PFIF 1.4 persons and notes: each new person becomes a sought person and is
    matched at once; records imported before are skipped. All or nothing: a refused document writes
    nothing."""
    max_bytes = deps.settings.pfif_max_bytes
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in XML_TYPES:
        raise HTTPException(415, "send the PFIF document as application/xml")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413, f"the document is larger than {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise HTTPException(413, f"the document is larger than {max_bytes} bytes")
    try:
        document = parse(bytes(body), max_bytes=max_bytes)
    except PfifError as exc:
        raise HTTPException(400, [{"field": "(body)", "rule": "pfif", "message": str(exc)}]) from None
    async with deps.pool.acquire() as conn, conn.transaction():
        result = await import_document(conn, document, crisis_id=crisis_id,
                                       config=_config(deps.settings))
    log.info("pfif_imported", **result.as_dict())
    return result.as_dict()
