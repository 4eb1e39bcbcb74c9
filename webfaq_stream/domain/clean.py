"""WebFAQ's pair filters, in WebFAQ's order, each drop with a named reason.

``clean_each(pairs)`` yields one result per input pair, in input order: a :class:`CleanPair` with
WebFAQ's id (:func:`webfaq_stream.domain.ids.pair_id`) or a :class:`Dropped` whose ``reason`` is one of
:data:`DROP_REASONS` (members of :class:`~webfaq_stream.domain.reasons.Reason`).
``clean_pairs(pairs) -> (kept, dropped)`` splits the same results into two lists (each in input order).

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
from collections.abc import Iterable, Iterator

import emoji

from webfaq_stream.domain.ids import pair_id
from webfaq_stream.domain.model import CleanPair, Dropped, RawPair
from webfaq_stream.domain.reasons import Reason

EMPTY = Reason.EMPTY
ANSWER_HAS_QUESTION_MARK = Reason.ANSWER_HAS_QUESTION_MARK
ANSWER_TOO_MANY_NEWLINES = Reason.ANSWER_TOO_MANY_NEWLINES
QUESTION_TOO_SHORT = Reason.QUESTION_TOO_SHORT
ANSWER_TOO_SHORT = Reason.ANSWER_TOO_SHORT
EMPTY_AFTER_CLEANING = Reason.EMPTY_AFTER_CLEANING
DUPLICATE = Reason.DUPLICATE
#: Every reason :func:`clean_pairs` can give, in filter order.
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


def filter_reason(question: str, answer: str) -> Reason | None:
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
    return without_emoji(text).strip()


def _emoji_starts() -> frozenset[str]:
    """What starts an emoji of the ``emoji`` package: the first character of every emoji that does
    not start with ASCII; U+20E3, which every keycap (``#``, ``*`` or a digit, ``#️⃣``) holds; and the
    variation selectors U+FE0E and U+FE0F, which the package removes even where they stand alone."""
    if any(key[0].isascii() and "\u20e3" not in key for key in emoji.EMOJI_DATA):
        raise RuntimeError("emoji: an emoji starts with ASCII and is no keycap; clean.without_emoji needs a look")
    return frozenset({key[0] for key in emoji.EMOJI_DATA if not key[0].isascii()} | {"\u20e3", "\ufe0e", "\ufe0f"})


_EMOJI_STARTS = _emoji_starts()
#: A cheap first test: the Latin-1 starts (©, ®) and everything from the lowest start above Latin-1
#: on (Latin, Greek and Cyrillic letters lie below it).
_MAYBE_EMOJI = re.compile("[" + "".join(sorted(c for c in _EMOJI_STARTS if ord(c) < 0x100))
                          + f"{chr(min(ord(c) for c in _EMOJI_STARTS if ord(c) >= 0x100))}-\U0010ffff]")


def without_emoji(text: str) -> str:
    """``emoji.replace_emoji(text, "")``, but a text with no character that starts an emoji (most
    texts: the package's pure-Python tokenizer costs about 1.5 us a character) is returned as it is."""
    if text.isascii() or _MAYBE_EMOJI.search(text) is None or _EMOJI_STARTS.isdisjoint(text):
        return text
    return emoji.replace_emoji(text, "")


def clean_each(pairs: Iterable[RawPair]) -> Iterator[CleanPair | Dropped]:
    """One result per input pair, in input order: the :class:`CleanPair` or why it was :class:`Dropped`."""
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
                yield CleanPair(id=identifier, question=question, answer=answer)
                continue
        yield Dropped(reason=reason, question=question, answer=answer)


def clean_pairs(pairs: Iterable[RawPair]) -> tuple[list[CleanPair], list[Dropped]]:
    """Apply WebFAQ's filters to ``pairs``; see the module contract."""
    kept: list[CleanPair] = []
    dropped: list[Dropped] = []
    for result in clean_each(pairs):
        if isinstance(result, Dropped):
            dropped.append(result)
        else:
            kept.append(result)
    return kept, dropped
