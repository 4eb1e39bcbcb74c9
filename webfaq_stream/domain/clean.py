"""WebFAQ's pair filters, in WebFAQ's order (DESIGN section 4), each drop with a named reason.

``clean_pairs(pairs) -> (kept, dropped)``: ``kept`` are :class:`CleanPair` with WebFAQ's id
(:func:`webfaq_stream.domain.ids.pair_id`), in input order; ``dropped`` are :class:`Dropped` whose ``reason``
is one of :data:`DROP_REASONS`. Every input pair ends up in exactly one of the two lists.

Order, as WebFAQ's ``extract`` does it (questions and answers stripped first):
1. ``empty``: question or answer empty;
2. ``answer_has_question_mark``: ``?`` in the answer;
3. ``answer_too_many_newlines``: 10 or more newlines in the answer;
4. ``question_too_short`` (< 10 characters), ``answer_too_short`` (< 30 characters);
5. rewrite: strip ``Q:``/``Question:`` and ``A:``/``Answer:`` prefixes, leading numbering
   ``^\\d+\\.\\d*\\s+``, an enclosing pair of quotes (``"..."``, ``“...”``, ``‘...’``, ``‟...”``,
   ``„...”``, ``„...“``), emojis (the ``emoji`` package, as WebFAQ);
6. ``empty_after_cleaning``: nothing left after the rewrite (WebFAQ would keep an empty text; we don't);
7. ``duplicate``: the same id already kept from this input (the same pair twice on a page).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import emoji

from webfaq_stream.domain.ids import pair_id
from webfaq_stream.domain.model import CleanPair, Dropped, RawPair

EMPTY = "empty"
ANSWER_HAS_QUESTION_MARK = "answer_has_question_mark"
ANSWER_TOO_MANY_NEWLINES = "answer_too_many_newlines"
QUESTION_TOO_SHORT = "question_too_short"
ANSWER_TOO_SHORT = "answer_too_short"
EMPTY_AFTER_CLEANING = "empty_after_cleaning"
DUPLICATE = "duplicate"
#: Every reason :func:`clean_pairs` can give, in filter order (metrics label values).
DROP_REASONS = (
    EMPTY, ANSWER_HAS_QUESTION_MARK, ANSWER_TOO_MANY_NEWLINES, QUESTION_TOO_SHORT, ANSWER_TOO_SHORT,
    EMPTY_AFTER_CLEANING, DUPLICATE,
)

MIN_QUESTION_CHARS = 10
MIN_ANSWER_CHARS = 30
MAX_ANSWER_NEWLINES = 10

_QUESTION_PREFIXES = (re.compile(r"^Q:\s+"), re.compile(r"^Question:\s+"))
_ANSWER_PREFIXES = (re.compile(r"^A:\s+"), re.compile(r"^Answer:\s+"))
_NUMBERING = re.compile(r"^\d+\.\d*\s+")
_QUOTE_PAIRS = (('"', '"'), ("“", "”"), ("‘", "’"), ("‟", "”"), ("„", "”"), ("„", "“"))


def filter_reason(question: str, answer: str) -> str | None:
    """The reason WebFAQ's filters (steps 1-4) drop a stripped pair, or ``None`` if it passes."""
    if not question or not answer:
        return EMPTY
    if "?" in answer:
        return ANSWER_HAS_QUESTION_MARK
    if answer.count("\n") >= MAX_ANSWER_NEWLINES:
        return ANSWER_TOO_MANY_NEWLINES
    if len(question) < MIN_QUESTION_CHARS:
        return QUESTION_TOO_SHORT
    if len(answer) < MIN_ANSWER_CHARS:
        return ANSWER_TOO_SHORT
    return None


def _strip_quotes(text: str) -> str:
    for opening, closing in _QUOTE_PAIRS:  # each pair tried once, in WebFAQ's order
        if text.startswith(opening) and text.endswith(closing):
            text = text[1:-1]
    return text


def rewrite(text: str, prefixes: Iterable[re.Pattern[str]]) -> str:
    """Step 5 for one text: prefixes, numbering, enclosing quotes, emojis (then stripped)."""
    for prefix in prefixes:
        text = prefix.sub("", text)
    text = _NUMBERING.sub("", text)
    text = _strip_quotes(text)
    return emoji.replace_emoji(text, "").strip()


def clean_pairs(pairs: Iterable[RawPair]) -> tuple[list[CleanPair], list[Dropped]]:
    """Apply WebFAQ's filters to ``pairs``; see the module contract."""
    kept: list[CleanPair] = []
    dropped: list[Dropped] = []
    seen: set[str] = set()
    for pair in pairs:
        question, answer = (pair.question or "").strip(), (pair.answer or "").strip()
        reason = filter_reason(question, answer)
        if reason is None:
            question = rewrite(question, _QUESTION_PREFIXES)
            answer = rewrite(answer, _ANSWER_PREFIXES)
            if not question or not answer:
                reason = EMPTY_AFTER_CLEANING
        if reason is None:
            identifier = pair_id(question, answer)
            if identifier in seen:
                reason = DUPLICATE
            else:
                seen.add(identifier)
                kept.append(CleanPair(id=identifier, question=question, answer=answer))
                continue
        dropped.append(Dropped(reason=reason, question=question, answer=answer))
    return kept, dropped
