"""Each WebFAQ filter, its order, the rewrites and the id."""

from __future__ import annotations

import sys

import emoji
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webfaq_stream.domain import clean
from webfaq_stream.domain.clean import DROP_REASONS, clean_pairs
from webfaq_stream.domain.ids import pair_id
from webfaq_stream.domain.model import RawPair

Q = "How long does delivery take?"
A = "Delivery takes three to five working days."


def _reason(question: str, answer: str) -> str | None:
    kept, dropped = clean_pairs([RawPair(question, answer)])
    assert len(kept) + len(dropped) == 1
    return dropped[0].reason if dropped else None


@pytest.mark.parametrize(("question", "answer", "reason"), [
    ("", A, clean.EMPTY),
    (Q, "   ", clean.EMPTY),
    (Q, "Is it? Delivery takes three to five working days.", clean.ANSWER_HAS_QUESTION_MARK),
    (Q, "line\n" * 10 + "Delivery takes three to five days.", clean.ANSWER_TOO_MANY_NEWLINES),
    ("Too short", A, clean.QUESTION_TOO_SHORT),
    (Q, "Only twenty-nine characters.!", clean.ANSWER_TOO_SHORT),
    (Q, '"' + "\U0001F600" * 30 + '"', clean.EMPTY_AFTER_CLEANING),
    (Q, A, None),
])
def test_each_filter(question: str, answer: str, reason: str | None) -> None:
    assert _reason(question, answer) == reason
    assert reason is None or reason in DROP_REASONS


def test_filters_run_in_webfaq_order() -> None:
    # too short *and* contains "?": the question-mark filter comes first
    assert _reason(Q, "Why?") == clean.ANSWER_HAS_QUESTION_MARK
    # 9 newlines pass the newline filter; lengths are measured before any rewrite
    assert _reason("Q: Short?", "A: " + "x" * 27) == clean.QUESTION_TOO_SHORT
    assert _reason(Q, "line\n" * 9 + "Delivery takes three days.") is None


@pytest.mark.parametrize(("question", "answer", "want_question", "want_answer"), [
    ("Q: " + Q, "A: " + A, Q, A),
    ("Question: " + Q, "Answer: " + A, Q, A),
    ("3. " + Q, "12.5 " + A, Q, A),
    ("“" + Q + "”", '"' + A + '"', Q, A),
    ("„" + Q + "“", "‘" + A + "’", Q, A),
    (Q + " \U0001F69A", "\u2705 " + A, Q, A),
])
def test_rewrites(question: str, answer: str, want_question: str, want_answer: str) -> None:
    kept, dropped = clean_pairs([RawPair(question, answer)])
    assert dropped == []
    assert (kept[0].question, kept[0].answer) == (want_question, want_answer)
    assert kept[0].id == pair_id(want_question, want_answer)


def test_prefix_needs_whitespace_and_is_case_sensitive() -> None:
    kept, _ = clean_pairs([RawPair("q: lower-case prefix stays", A), RawPair("Q:no space stays here", A)])
    assert [k.question for k in kept] == ["q: lower-case prefix stays", "Q:no space stays here"]


def test_same_pair_twice_is_kept_once() -> None:
    kept, dropped = clean_pairs([RawPair(Q, A), RawPair("Q: " + Q, A), RawPair(Q, A + " More.")])
    assert [k.answer for k in kept] == [A, A + " More."]
    assert [d.reason for d in dropped] == [clean.DUPLICATE]


def test_id_is_webfaq_md5_with_newlines_as_spaces() -> None:
    kept, _ = clean_pairs([RawPair(Q, "Delivery takes three\nto five working days.")])
    assert kept[0].id == pair_id(Q, "Delivery takes three to five working days.")
    assert len(kept[0].id) == 32


def test_every_emoji_is_removed_as_the_emoji_package_removes_it() -> None:
    """The shortcut of ``without_emoji`` never skips a text the package would change."""
    for key in emoji.EMOJI_DATA:
        for text in (key, f"Ja {key} ok", f"Größe 3{key}\u200d{key}!", f"#{key}1"):
            assert clean.without_emoji(text) == emoji.replace_emoji(text, ""), ascii(text)


def test_every_single_character_is_removed_or_kept_as_the_emoji_package_does() -> None:
    """Characters that are no emoji's start but that the package removes alone (the variation selectors)."""
    kept_wrongly = [hex(code) for code in range(0x80, sys.maxunicode + 1)
                    if clean.without_emoji(chr(code)) != emoji.replace_emoji(chr(code), "")]
    assert kept_wrongly == []


_EMOJI_ALPHABET = sorted({char for key in emoji.EMOJI_DATA for char in key}) + list("#*0123456789 aéßЖ日\u200d")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(_EMOJI_ALPHABET), max_size=12) | st.text(max_size=30))
def test_without_emoji_agrees_with_the_emoji_package(text: str) -> None:
    assert clean.without_emoji(text) == emoji.replace_emoji(text, "")
