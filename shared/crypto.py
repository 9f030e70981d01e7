"""Application-level encryption of sensitive fields: AES-256-GCM with a key id in every ciphertext.

Keys come from configuration as `FIELD_KEYS="kid1:<base64 32 bytes>,kid2:<...>"`; the first key encrypts, every key
decrypts, so a new key is put first to rotate and old records stay readable. A ciphertext is the text
`v1.<kid>.<base64(nonce || ciphertext || tag)>`; the associated data binds it to its record (e.g. the case reference)
so that a value copied to another record does not decrypt.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1"


class DecryptionError(ValueError):
    """A ciphertext names a key this configuration does not hold, or does not authenticate."""


@dataclass(frozen=True)
class FieldCipher:
    keys: dict[str, bytes]
    current: str

    @classmethod
    def from_config(cls, value: str) -> FieldCipher:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for item in filter(None, (part.strip() for part in value.split(","))):
            kid, _, b64 = item.partition(":")
            key = base64.b64decode(b64)
            if not kid or "." in kid or len(key) != 32:
                raise ValueError("FIELD_KEYS entries are kid:<base64 of 32 bytes>, the kid without dots")
            keys[kid] = key
            order.append(kid)
        if not order:
            raise ValueError("FIELD_KEYS holds no key")
        return cls(keys=keys, current=order[0])

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}.{self.current}.{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, *, context: str) -> str:
        try:
            prefix, kid, b64 = token.split(".", 2)
            raw = base64.b64decode(b64)
            if prefix != PREFIX or kid not in self.keys:
                raise DecryptionError(f"no key {kid!r} to decrypt this value")
            return AESGCM(self.keys[kid]).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except DecryptionError:
            raise
        except Exception as exc:
            raise DecryptionError("the value does not decrypt with this key and context") from exc

    @staticmethod
    def is_encrypted(value: str) -> bool:
        return value.startswith(PREFIX + ".")


def new_key_config(kid: str) -> str:
    """A fresh `kid:<base64>` entry (for `python -m shared.cli` users and tests)."""
    return f"{kid}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"
