"""The lean Twilio HTTP client's form encoding (adapters/twilio_sms.py `_form`): the bytes `urlencode(doseq=True)`
gives, which is what twilio-python's own client had aiohttp send."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from services.notifier.adapters.twilio_sms import _form

VALUES = st.one_of(st.text(), st.integers(), st.booleans(), st.lists(st.text(), max_size=3))


@settings(deadline=None, database=None)  # no timing (a loaded CI machine), no example store left in the checkout
@given(st.dictionaries(st.sampled_from(["To", "From", "Body", "StatusCallback", "StatusCallbackEvent", "Twiml",
                                        "ValidityPeriod", "x y&z"]), VALUES))
def test_the_form_is_urlencoded_as_the_library_sent_it(data: dict[str, object]) -> None:
    assert _form(data) == urlencode(data, doseq=True)


def test_a_repeated_body_is_encoded_the_same_each_time() -> None:
    body = "Flood in Valencia: get to safety. Hotline +32 2 501 10 00 & 100% free"
    first = _form({"To": "+32470000001", "Body": body})
    second = _form({"To": "+32470000002", "Body": body})
    assert first.split("&", 1)[1] == second.split("&", 1)[1] == "Body=" + urlencode({"b": body})[2:]
