from __future__ import annotations

import pytest

from shared.sms import (
    GSM7_EXTENSION,
    Encoding,
    analyse,
    is_gsm7,
    to_gsm7_where_possible,
)


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)])
def test_gsm7_segments_160_then_153(length: int, segments: int) -> None:
    info = analyse("a" * length)
    assert info.encoding is Encoding.GSM7
    assert info.units == length
    assert info.segments == segments


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_segments_70_then_67(length: int, segments: int) -> None:
    info = analyse("ê" + "a" * (length - 1))
    assert info.encoding is Encoding.UCS2
    assert info.units == length
    assert info.segments == segments


def test_extension_characters_count_double() -> None:
    text = "€" * 80  # 160 septets: one segment
    assert analyse(text).units == 160
    assert analyse(text).segments == 1
    assert analyse(text + "a").segments == 2


def test_an_escape_pair_is_not_split_between_segments() -> None:
    # 152 plain septets then '€' (2 septets) would straddle the 153 boundary: it moves to the next segment.
    text = "a" * 152 + "€" + "a" * 10
    info = analyse(text)
    assert info.units == 164
    assert info.segments == 2
    assert analyse("a" * 152 + "€" + "a" * 152).segments == 3  # 152 | 2+151=153 | 1


def test_accented_letters_of_the_gsm_alphabet_stay_gsm7() -> None:
    assert is_gsm7("Réponse à donner, Außenministerium, Ä Ö Ü ñ ù è ì ò")
    for letter in "êâîôûçëï":
        assert not is_gsm7(f"x{letter}x"), letter


def test_emoji_counts_two_utf16_units() -> None:
    info = analyse("🙂" * 35)
    assert info.encoding is Encoding.UCS2
    assert info.units == 70
    assert info.segments == 1
    assert analyse("🙂" * 34 + "a" + "🙂").segments == 2  # the surrogate pair is not split


def test_typographic_punctuation_is_replaced_but_letters_are_kept() -> None:
    text = "L\u2019ambassade \u00ab ouverte \u00bb \u2013 voir\u2026\u00a0ARR\u00caT"
    converted = to_gsm7_where_possible(text)
    assert converted == "L'ambassade \" ouverte \" - voir... ARRÊT"
    assert not is_gsm7(converted)  # Ê has no GSM-7 twin: the message goes UCS-2
    assert is_gsm7(to_gsm7_where_possible("L\u2019ambassade \u2013 ouverte\u2026"))


def test_combining_accents_are_composed_first() -> None:
    assert to_gsm7_where_possible("e\u0301") == "é"
    assert is_gsm7(to_gsm7_where_possible("Re\u0301ponse"))


def test_extension_table_is_what_the_standard_says() -> None:
    assert set("^{}\\[~]|€\f") == GSM7_EXTENSION
    assert analyse("").segments == 1
