"""Local sign-in for development: users and PBKDF2 password hashes from configuration. Pure, no I/O.

`DASHBOARD_USERS` holds `name:hash` entries separated by commas (intake's officers hold their own hash), each
hash written by `python -m shared.cli hash-password` as `pbkdf2_sha256.<iterations>.<salt>.<digest>`
(URL-safe base64 without padding: no `$`, `:` or `,`, so the value survives env files, shells and Makefiles).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

SCHEME = "pbkdf2_sha256"
ITERATIONS = 260_000


class InvalidUsers(ValueError):
    """The users setting cannot be read; the message names the entry (never the hash)."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    if not password:
        raise ValueError("an empty password cannot be hashed")
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{SCHEME}.{iterations}.{_b64(salt)}.{_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches `encoded`; False for a wrong password or a malformed hash."""
    try:
        scheme, iterations, salt, digest = encoded.split(".")
        if scheme != SCHEME:
            return False
        computed = hashlib.pbkdf2_hmac("sha256", password.encode(), _unb64(salt), int(iterations))
        return hmac.compare_digest(computed, _unb64(digest))
    except ValueError:
        return False


def parse_users(value: str) -> dict[str, str]:
    """`"alice:pbkdf2_sha256...,bob:..."` -> {"alice": hash, ...}; raises InvalidUsers on a malformed entry."""
    users: dict[str, str] = {}
    for position, entry in enumerate(filter(None, (e.strip() for e in value.split(","))), start=1):
        name, sep, encoded = entry.partition(":")
        name, encoded = name.strip(), encoded.strip()
        if not sep or not name or len(encoded.split(".")) != 4 or not encoded.startswith(SCHEME + "."):
            raise InvalidUsers(f"entry {position} ({name or '?'}) is not 'name:{SCHEME}.<iterations>.<salt>.<hash>'")
        if name in users:
            raise InvalidUsers(f"user {name} is listed twice")
        users[name] = encoded
    return users


@functools.cache
def dummy_hash() -> str:
    """A hash of a random password: a sign-in for an unknown user costs as much as one for a known user."""
    return hash_password(secrets.token_urlsafe(16))
