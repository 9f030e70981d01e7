"""A ticket to open the coordinators' event stream: what `EventSource` can carry instead of the bearer token.

`EventSource` cannot send headers, so the stream used to take the bearer token itself in its query string, where
proxies and access logs keep it, and kept streaming past the token's expiry. The dashboard now trades its token
(in a header) for a ticket valid `TICKET_SECONDS`, good for the stream only, that names the subject and the
token's expiry; the stream ends when the token would have (the dashboard then reconnects with a fresh ticket, or
signs in again). Signed with a key derived from the service's secret, like the welfare answer links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

TICKET_SECONDS = 30
_CONTEXT = b"crisis-events-ticket/v1"


class BadTicket(ValueError):
    """Forged, altered, expired or malformed."""


@dataclass(frozen=True)
class Ticket:
    subject: str
    roles: tuple[str, ...]
    stream_until: int
    """Epoch seconds: the bearer token's expiry; the stream ends then."""


def ticket_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(key: bytes, ticket: Ticket, *, now: int) -> str:
    payload = json.dumps({"sub": ticket.subject, "roles": list(ticket.roles), "until": ticket.stream_until,
                          "exp": min(now + TICKET_SECONDS, ticket.stream_until)}, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(hmac.new(key, payload, hashlib.sha256).digest())}"


def read(key: bytes, text: str, *, now: int) -> Ticket:
    try:
        encoded, mac = text.split(".")
        payload = _unb64(encoded)
        if not hmac.compare_digest(_unb64(mac), hmac.new(key, payload, hashlib.sha256).digest()):
            raise BadTicket("signature")
        claims = json.loads(payload)
        expires, until = int(claims["exp"]), int(claims["until"])
        ticket = Ticket(subject=str(claims["sub"]), roles=tuple(str(r) for r in claims["roles"]), stream_until=until)
    except (ValueError, KeyError, TypeError) as exc:
        raise BadTicket(str(exc)) from None
    if now >= expires:
        raise BadTicket("expired")
    return ticket
