"""Sensitive fields are unreadable without the key, bound to their record, and survive key rotation."""

from __future__ import annotations

import pytest

from shared.crypto import DecryptionError, FieldCipher, new_key_config


def test_encrypts_unreadably_and_decrypts_with_the_same_context() -> None:
    cipher = FieldCipher.from_config(new_key_config("k1"))
    token = cipher.encrypt("held at the central police station", context="BE-2026-000001")
    assert "police" not in token and token.startswith("v1.k1.")
    assert cipher.decrypt(token, context="BE-2026-000001") == "held at the central police station"
    assert cipher.encrypt("same", context="c") != cipher.encrypt("same", context="c"), "a fresh nonce each time"


def test_a_value_moved_to_another_record_or_tampered_does_not_decrypt() -> None:
    cipher = FieldCipher.from_config(new_key_config("k1"))
    token = cipher.encrypt("secret", context="BE-2026-000001")
    with pytest.raises(DecryptionError):
        cipher.decrypt(token, context="BE-2026-000002")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(DecryptionError):
        cipher.decrypt(tampered, context="BE-2026-000001")


def test_rotation_keeps_old_records_readable_and_encrypts_with_the_new_key() -> None:
    old = new_key_config("2025")
    before = FieldCipher.from_config(old).encrypt("born 1990-01-01", context="r1")
    rotated = FieldCipher.from_config(new_key_config("2026") + "," + old)
    assert rotated.decrypt(before, context="r1") == "born 1990-01-01"
    assert rotated.encrypt("x", context="r1").startswith("v1.2026.")
    without_old = FieldCipher.from_config(new_key_config("2027"))
    with pytest.raises(DecryptionError, match="no key '2025'"):
        without_old.decrypt(before, context="r1")


@pytest.mark.parametrize("config", ["", "k1:c2hvcnQ=", "k.1:" + "A" * 44, ":abc"])
def test_bad_key_configuration_is_refused(config: str) -> None:
    with pytest.raises(ValueError):
        FieldCipher.from_config(config)
