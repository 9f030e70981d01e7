"""The crisis center's settings written in a notation of their own are read at start-up: a bad item fails it,
naming the setting and the item."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.crisis_center.settings import Settings

SECRET = "a-real-secret-value-42-long-enough-for-hs256"


@pytest.mark.parametrize(("field", "bad", "named"), [
    ("crisis_activation_rules", "gdacs:extreme=sometimes", "gdacs:extreme=sometimes"),
    ("broadcast_senders", "notifier=fast", "notifier=fast"),
    ("exercise_recipients", "+32470123456,nobody", "nobody"),
    ("hotline_numbers", "+3225014001,123", "123"),
])
def test_a_bad_item_fails_naming_the_setting_and_the_item(monkeypatch, field: str, bad: str, named: str) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    with pytest.raises(ValidationError) as raised:
        Settings(**{field: bad})
    [error] = raised.value.errors()
    assert error["loc"] == (field,)
    assert named in error["msg"]


def test_good_items_are_kept_as_written_and_read_where_used(monkeypatch) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    settings = Settings(crisis_activation_rules="gdacs:extreme=automatic", broadcast_senders="notifier=50,spare=10",
                        exercise_recipients="+32470123456:nl,test@example.org", hotline_numbers="+3225014001")
    assert settings.broadcast_senders == "notifier=50,spare=10"
    assert settings.hotline_pool == ("+3225014001",)
    assert [c.language for c in settings.exercise_test_list] == ["nl", "en"]
    assert settings.activation_rules().mode_for("gdacs", "extreme") == "automatic"
