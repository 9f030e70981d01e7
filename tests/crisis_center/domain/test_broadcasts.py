"""Broadcasts' pure rules: texts per language, the two-person rule, the drawn area, and the send planner (segment
counts and times worked out by hand in each test)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.crisis_center.domain import broadcasts as b
from services.crisis_center.domain import exercise
from shared.geo import Area
from shared.notifications.rendering import Renderer
from shared.sms import Encoding, SmsInfo, analyse, tidy_sms

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# texts ----------------------------------------------------------------------------------------------------------
def test_every_language_has_its_text_or_falls_back_to_english_explicitly() -> None:
    given = {"fr": "Bonjour", "en": "Hello", "nl": "Hallo"}
    assert b.resolve_texts(given, ["de"]) == {"fr": "Bonjour", "nl": "Hallo", "de": "Hello", "en": "Hello"}
    with pytest.raises(b.BadTexts, match="neither a text nor"):
        b.resolve_texts(given, [])  # de silently missing
    with pytest.raises(b.BadTexts, match="English text is required"):
        b.resolve_texts({"fr": "a", "nl": "b", "de": "c"}, [])
    with pytest.raises(b.BadTexts, match="English cannot fall back"):
        b.resolve_texts({"fr": "a", "nl": "b", "de": "c"}, ["en"])
    with pytest.raises(b.BadTexts, match="given and marked"):
        b.resolve_texts({**given, "de": "Hallo"}, ["de"])
    with pytest.raises(b.BadTexts, match="unknown"):
        b.resolve_texts({**given, "de": "x", "it": "Ciao"}, [])


def test_prefill_names_the_crisis_and_hotline_in_each_language() -> None:
    texts = b.prefill(title="Flood in Porto", hotline="+3225011000")
    assert set(texts) == {"fr", "nl", "de", "en"}
    assert all("Flood in Porto" in t and "+3225011000" in t for t in texts.values())


# the two-person rule ----------------------------------------------------------------------------------------------
def pending(**kw: object) -> b.State:
    values: dict[str, object] = {"status": "pending", "author": "anne", "version": 1,
                                 "expires_at": T0 + timedelta(minutes=30)}
    values.update(kw)
    return b.State(**values)  # type: ignore[arg-type]


def test_the_author_cannot_approve() -> None:
    with pytest.raises(b.Refused) as refused:
        b.check_approval(pending(), approver="anne", version=1, now=T0)
    assert refused.value.status == 403


def test_a_second_coordinator_approves_the_current_version_once() -> None:
    assert b.check_approval(pending(), approver="bert", version=1, now=T0) is True
    with pytest.raises(b.Refused) as refused:
        b.check_approval(pending(version=2), approver="bert", version=1, now=T0)
    assert refused.value.status == 409, "approving a text that was edited since"
    approved = pending(status="approved", decided_by="bert")
    assert b.check_approval(approved, approver="bert", version=1, now=T0) is False, "a repeated approval: no-op"
    with pytest.raises(b.Refused):
        b.check_approval(approved, approver="carl", version=1, now=T0)


def test_a_pending_broadcast_expires_at_its_deadline() -> None:
    state = pending()
    assert not b.expired(state, T0 + timedelta(minutes=29, seconds=59))
    assert b.expired(state, T0 + timedelta(minutes=30))
    with pytest.raises(b.Refused, match="expired") as refused:
        b.check_approval(state, approver="bert", version=1, now=T0 + timedelta(minutes=30))
    assert refused.value.status == 409
    assert b.expiry(T0, 30) == T0 + timedelta(minutes=30)


def test_only_the_author_edits_and_only_while_pending() -> None:
    b.check_edit(pending(), editor="anne", now=T0)
    with pytest.raises(b.Refused) as refused:
        b.check_edit(pending(), editor="bert", now=T0)
    assert refused.value.status == 403
    for status in ("approved", "rejected", "expired"):
        with pytest.raises(b.Refused) as refused:
            b.check_edit(pending(status=status), editor="anne", now=T0)
        assert refused.value.status == 409
        with pytest.raises(b.Refused):
            b.check_rejection(pending(status=status), now=T0)
    b.check_rejection(pending(), now=T0)


# the drawn area ---------------------------------------------------------------------------------------------------
KATHMANDU = Area.from_dict({"country": "NP", "circle": {"lat": 27.7, "lon": 85.3, "radius_km": 50}})
SQUARE = ((85.2, 27.6), (85.4, 27.6), (85.4, 27.8), (85.2, 27.8))


def test_a_drawn_polygon_lies_inside_the_crisis_area() -> None:
    assert b.check_polygon(SQUARE, KATHMANDU) == SQUARE
    with pytest.raises(b.BadPolygon, match="outside"):
        b.check_polygon(((85.2, 27.6), (85.4, 27.6), (85.4, 28.9)), KATHMANDU)  # 28.9 N is ~130 km north
    with pytest.raises(b.BadPolygon):
        b.check_polygon(((85.2, 27.6), (85.4, 27.6)), KATHMANDU)
    assert b.inside(SQUARE, 27.7, 85.3) and not b.inside(SQUARE, 27.9, 85.3)


# SMS segments -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "encoding", "units", "segments"), [
    ("Hello", "GSM-7", 5, 1),
    ("a" * 160, "GSM-7", 160, 1),          # one message holds 160 septets
    ("a" * 161, "GSM-7", 161, 2),          # 153 + 8
    ("a" * 306, "GSM-7", 306, 2),          # 153 + 153
    ("a" * 307, "GSM-7", 307, 3),          # 153 + 153 + 1
    ("€" * 80, "GSM-7", 160, 1),           # extension table: 2 septets each
    ("a" * 159 + "€", "GSM-7", 161, 2),    # 153 | 6 + 2
    ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),  # the escape pair is not split: 152 | 2 + 151 | 1
    ("café à Liège", "GSM-7", 12, 1),     # é, à and è are in the basic set
    ("Arrêt", "UCS-2", 5, 1),              # ê is not: the whole text goes as UCS-2
    ("ж" * 70, "UCS-2", 70, 1),
    ("ж" * 71, "UCS-2", 71, 2),            # 67 + 4
    ("ж" * 134, "UCS-2", 134, 2),          # 67 + 67
    ("ж" * 135, "UCS-2", 135, 3),
    ("😀" * 35, "UCS-2", 70, 1),            # a surrogate pair: 2 units
    ("a" * 66 + "😀" + "ж", "UCS-2", 69, 1),
    ("a" * 66 + "😀" + "ж" * 5, "UCS-2", 73, 2),  # the pair is not split: 66 | 2 + 5
])
def test_segments(text: str, encoding: str, units: int, segments: int) -> None:
    assert analyse(text) == SmsInfo(Encoding(encoding), units, segments)


def test_typographic_punctuation_is_counted_as_sent() -> None:
    text = tidy_sms("Contactez  l\u2019ambassade \u2014 merci\u2026\n\n  fin ")
    assert text == "Contactez l'ambassade - merci...\nfin"
    assert analyse(text).encoding == "GSM-7"


def test_the_planner_counts_the_texts_the_notifier_sends() -> None:
    renderer = Renderer()
    params = {"crisis_title": "Flood in Porto", "hotline_number": "+3225011000"}
    for lang, text in b.all_clear_sms("Flood in Porto").items():
        assert renderer.render("crisis_closed", lang, params, channel="sms").sms == tidy_sms(text), lang
    message = "Belgian Foreign Affairs \u2013 the airport reopens tomorrow\u2026 Help: +32 2 501 10 00"
    for lang in b.LANGUAGES:
        rendered = renderer.render("crisis_followup", lang, {**params, "message": message}, channel="sms")
        assert rendered.sms == tidy_sms(message)
        assert rendered.sms_info.segments == analyse(tidy_sms(message)).segments


def test_the_planner_counts_an_exercises_sms_with_its_exercise_line() -> None:
    renderer = Renderer()
    params = {"crisis_title": "Flood in Porto", "hotline_number": "+3225011000", "exercise": True}
    message = "a" * 140  # one GSM-7 segment alone; the EXERCISE line makes it two
    assert analyse(tidy_sms(message)).segments == 1
    planned = exercise.sms_texts({lang: message for lang in b.LANGUAGES}, True)
    closing = exercise.sms_texts(b.all_clear_sms("Flood in Porto"), True)
    for lang in b.LANGUAGES:
        rendered = renderer.render("crisis_followup", lang, {**params, "message": message}, channel="sms")
        assert rendered.sms == tidy_sms(planned[lang]), lang
        assert rendered.sms_info.segments == analyse(tidy_sms(planned[lang])).segments == 2
        closed = renderer.render("crisis_closed", lang, params, channel="sms")
        assert closed.sms == tidy_sms(closing[lang]), lang
    assert exercise.sms_texts({"fr": message}, False) == {"fr": message}


# senders and time ---------------------------------------------------------------------------------------------------
def test_senders_parse() -> None:
    assert b.parse_senders("main=50, backup=30") == (b.Sender("main", 50.0), b.Sender("backup", 30.0))
    for bad in ("", "main", "main=0", "main=-1", "main=x", "=5", "main=inf"):
        with pytest.raises(b.BadSenders):
            b.parse_senders(bad)


def people(n: int, language: str, *, phone: bool = True, email: bool = True) -> list[b.Contact]:
    return [b.Contact(language, phone, email)] * n


def test_plan_counts_recipients_per_channel_and_language_and_segments() -> None:
    contacts = people(600, "fr") + people(300, "nl", email=False) + people(100, "en", phone=False)
    texts = {"fr": "Arrêt des vols", "nl": "a" * 200, "de": "Hallo", "en": "Hello"}
    plan = b.plan(contacts, texts, senders=[b.Sender("main", 50)], email_rate_per_second=50)
    assert plan.people == 1000
    assert plan.recipients == {"sms": {"fr": 600, "nl": 300, "de": 0, "en": 0},
                               "email": {"fr": 600, "nl": 0, "de": 0, "en": 100}}
    assert plan.sms["fr"] == SmsInfo(Encoding.UCS2, 14, 1)
    assert plan.sms["nl"] == SmsInfo(Encoding.GSM7, 200, 2)
    assert plan.sms_segments == 600 * 1 + 300 * 2  # = 1,200 billed
    # 900 SMS at 50/s = 18 s; 700 emails at 50/s = 14 s: the last recipient at 18 s
    assert plan.email_seconds == 14.0
    assert plan.current == b.Scenario(1, 50.0, 18.0, 18.0)
    # one more sender: 900 / 100 = 9 s, now email-bound at 14 s; two more: 900 / 150 = 6 s, still 14 s
    assert plan.more_senders == [b.Scenario(2, 100.0, 9.0, 14.0), b.Scenario(3, 150.0, 6.0, 14.0)]


def test_plan_with_several_senders_adds_senders_at_their_mean_rate() -> None:
    plan = b.plan(people(1000, "en", email=False), {"en": "Hello"},
                  senders=[b.Sender("a", 50), b.Sender("b", 30)], email_rate_per_second=0)
    assert plan.current == b.Scenario(2, 80.0, 12.5, 12.5)          # 1000 / 80
    assert plan.more_senders[0] == b.Scenario(3, 120.0, 8.333, 8.333)  # 1000 / 120
    assert plan.more_senders[1] == b.Scenario(4, 160.0, 6.25, 6.25)    # 1000 / 160
    assert b.plan([], {"en": "x"}, senders=[b.Sender("a", 50)], email_rate_per_second=50).current.seconds_to_last \
        == 0.0


def test_100000_people_at_100_per_second() -> None:
    plan = b.plan(people(100_000, "en", email=False), {"en": "Hello"}, senders=[b.Sender("a", 100)],
                  email_rate_per_second=50)
    assert plan.current.seconds_to_last == 1000.0  # 100,000 / 100
    assert plan.more_senders[1].seconds_to_last == pytest.approx(333.333)
