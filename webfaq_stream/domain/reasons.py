"""Every named reason a record, page or pair leaves the flow for: one enum, three kinds.

``Reason`` is a ``StrEnum``: a member equals its text (``Reason.TOO_SLOW == "too_slow"``), which is what
metrics labels, dead-letter headers, the ingest counts and ``webfaq-stream extract`` print. Each
reason belongs to one or two of three kinds:

- :data:`DEAD_LETTER_REASONS`: the record cannot be decoded (or a step failed unexpectedly:
  ``internal_error``); it goes to the dead-letter topic with its bytes, key and source offset;
- :data:`PAGE_DROP_REASONS`: the record was decoded but its page yields nothing (no FAQPage, a non-2xx
  response, over a limit, opted out by its OWS flags); counted in ``drops``;
- :data:`PAIR_DROP_REASONS`: one extracted pair is removed by WebFAQ's filters or language id, or is of
  a forgotten origin or URL; counted in ``drops``.

``empty`` is both an empty message (dead letter) and a pair with an empty side (pair drop); ``too_large``
is both a record over ``WEBFAQ_MAX_RECORD_BYTES`` before decoding (dead letter) and a decoded page over
it (page drop). The README's reason table, the metrics and the ingest summary are checked against this
module (``tests/test_reasons.py``).
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """A named reason; see the module docstring for the kinds."""

    # records that cannot be decoded
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    UNKNOWN_FORMAT = "unknown_format"
    MISSING_URL = "missing_url"
    INVALID_URL = "invalid_url"
    INVALID_WARC = "invalid_warc"
    NOT_RESPONSE = "not_response"
    INVALID_DATE = "invalid_date"
    INVALID_JSON = "invalid_json"
    INVALID_ENVELOPE = "invalid_envelope"
    INTERNAL_ERROR = "internal_error"
    # pages that yield nothing
    NO_FAQPAGE = "no_faqpage"
    HTTP_STATUS = "http_status"
    NOT_HTTP = "not_http"
    NOT_HTML = "not_html"
    TOO_SLOW = "too_slow"
    TOO_DEEP = "too_deep"
    TOO_COMPLEX = "too_complex"
    OPTED_OUT = "opted_out"
    # pairs removed by WebFAQ's filters (in filter order) and by language id
    ANSWER_HAS_QUESTION_MARK = "answer_has_question_mark"
    ANSWER_TOO_MANY_NEWLINES = "answer_too_many_newlines"
    QUESTION_TOO_SHORT = "question_too_short"
    ANSWER_TOO_SHORT = "answer_too_short"
    EMPTY_AFTER_CLEANING = "empty_after_cleaning"
    DUPLICATE = "duplicate"
    LANGUAGE_UNCERTAIN = "language_uncertain"
    # pairs of origins and URLs forgotten on request (tombstones)
    FORGOTTEN = "forgotten"


#: Reasons a record goes to the dead-letter topic.
DEAD_LETTER_REASONS: frozenset[Reason] = frozenset({
    Reason.EMPTY, Reason.TOO_LARGE, Reason.UNKNOWN_FORMAT, Reason.MISSING_URL, Reason.INVALID_URL,
    Reason.INVALID_WARC, Reason.NOT_RESPONSE, Reason.INVALID_DATE, Reason.INVALID_JSON,
    Reason.INVALID_ENVELOPE, Reason.INTERNAL_ERROR,
})
#: Reasons a decoded page yields no pair (counted once per page).
PAGE_DROP_REASONS: frozenset[Reason] = frozenset({
    Reason.NO_FAQPAGE, Reason.HTTP_STATUS, Reason.NOT_HTTP, Reason.TOO_LARGE, Reason.NOT_HTML, Reason.TOO_SLOW,
    Reason.TOO_DEEP, Reason.TOO_COMPLEX, Reason.OPTED_OUT,
})
#: Reasons one pair is removed (counted once per pair).
PAIR_DROP_REASONS: frozenset[Reason] = frozenset({
    Reason.EMPTY, Reason.ANSWER_HAS_QUESTION_MARK, Reason.ANSWER_TOO_MANY_NEWLINES,
    Reason.QUESTION_TOO_SHORT, Reason.ANSWER_TOO_SHORT, Reason.EMPTY_AFTER_CLEANING, Reason.DUPLICATE,
    Reason.LANGUAGE_UNCERTAIN, Reason.FORGOTTEN,
})
#: Every reason counted in ``drops`` (page and pair drops; the two kinds share no reason).
DROP_REASONS: frozenset[Reason] = PAGE_DROP_REASONS | PAIR_DROP_REASONS
