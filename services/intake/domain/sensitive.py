"""Which fields of a case are encrypted at rest, sealed and opened with the record's reference as context.

Detention and missing-person descriptions and every subject's date of birth are stored as FieldCipher tokens
(`v1.<kid>.<...>`: the key id travels with each value, so keys rotate without re-encrypting old records).
"""

from __future__ import annotations

from typing import Any

from shared.crypto import FieldCipher

SENSITIVE_KINDS = frozenset({"detention", "missing_person"})


def _context(reference: str, field: str) -> str:
    return f"intake.reports:{reference}:{field}"


def seal_row(row: dict[str, Any], cipher: FieldCipher | None) -> dict[str, Any]:
    """The row of a new case as stored: sensitive fields replaced by their ciphertexts."""
    if cipher is None:
        return row
    reference = row["reference"]
    sealed = dict(row)
    if row["kind"] in SENSITIVE_KINDS and row.get("description") is not None:
        sealed["description"] = cipher.encrypt(row["description"], context=_context(reference, "description"))
    subject = row.get("subject")
    if subject and subject.get("date_of_birth") is not None:
        sealed["subject"] = {**subject, "date_of_birth": cipher.encrypt(
            str(subject["date_of_birth"]), context=_context(reference, "subject.date_of_birth"))}
    return sealed


def open_row(row: dict[str, Any], cipher: FieldCipher | None) -> dict[str, Any]:
    """The stored row with its sensitive fields in clear; raises DecryptionError without the right key."""
    reference = row["reference"]
    opened = dict(row)
    description = row.get("description")
    if isinstance(description, str) and FieldCipher.is_encrypted(description):
        opened["description"] = _require(cipher).decrypt(description, context=_context(reference, "description"))
    subject: dict[str, Any] = row.get("subject") or {}
    birth = subject.get("date_of_birth")
    if isinstance(birth, str) and FieldCipher.is_encrypted(birth):
        opened["subject"] = {**subject, "date_of_birth": _require(cipher).decrypt(
            birth, context=_context(reference, "subject.date_of_birth"))}
    return opened


def _require(cipher: FieldCipher | None) -> FieldCipher:
    if cipher is None:
        raise ValueError("this case holds encrypted fields and no key is configured")
    return cipher
