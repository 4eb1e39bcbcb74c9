"""The pure part of a worker batch: raw messages in, tagged pairs, drop counts and dead letters out.

``Pipeline(tagger, max_record_bytes=..., page_time_budget_s=...).run(messages) -> BatchResult``:
for each :class:`RawMessage`, in order: decode (:mod:`records`), extract FAQPage pairs
(:mod:`extract`, or the envelope's ``faq`` list used as-is), clean (:mod:`clean`), tag the
language (:mod:`langid`). No I/O; the models are passed in.

Guarantees:
- every message ends up in exactly one of: ``dead_letters`` (undecodable: the reason from
  ``RecordError``, or ``internal_error`` when a step failed unexpectedly), a page drop counted in
  ``drops`` (``http_status``, ``too_large``, ``too_slow``, ``no_faqpage``...), or a page with
  pairs (``pages_with_faq``); every extracted pair is either in ``pairs`` or counted in ``drops``
  by its reason (``language_uncertain`` for pairs fastText cannot tell);
- one bad message never affects the others;
- ``offsets`` holds, per ``"topic:partition"``, the offset after the last message of the batch
  (what the checkpoint records), for every message with a source, whatever happened to it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from webfaq_stream.decode.records import decode_record
from webfaq_stream.domain.clean import clean_pairs
from webfaq_stream.domain.model import CrawlRecord, PageDropped, PageFAQ, RawPair, SourceRef, TaggedPair
from webfaq_stream.errors import RecordError
from webfaq_stream.extract.page import extract_faq
from webfaq_stream.ports import Tagger

log = logging.getLogger(__name__)

NO_FAQPAGE = "no_faqpage"
LANGUAGE_UNCERTAIN = "language_uncertain"
INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One message as consumed: value, key, headers and where it came from."""

    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    source: SourceRef | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An undecodable message with its reason (``detail`` is for logs, not for metrics labels)."""

    message: RawMessage
    reason: str
    detail: str = ""


@dataclass(slots=True)
class BatchResult:
    """What :meth:`Pipeline.run` made of one batch (see the module contract)."""

    records: int = 0
    pages_with_faq: int = 0
    pairs: list[TaggedPair] = field(default_factory=list)
    drops: Counter[str] = field(default_factory=Counter)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    offsets: dict[str, int] = field(default_factory=dict)

    def languages(self) -> Counter[str]:
        """Kept pairs per ISO 639-3 language."""
        return Counter(pair.language for pair in self.pairs)

    def dead_letter_reasons(self) -> Counter[str]:
        return Counter(letter.reason for letter in self.dead_letters)

    def extend(self, later: BatchResult) -> None:
        """Add the result of the messages that follow this one's (``run(a + b)`` equals
        ``run(a)`` extended by ``run(b)``)."""
        self.records += later.records
        self.pages_with_faq += later.pages_with_faq
        self.pairs.extend(later.pairs)
        self.drops.update(later.drops)
        self.dead_letters.extend(later.dead_letters)
        for key, offset in later.offsets.items():
            self.offsets[key] = max(offset, self.offsets.get(key, 0))


def offset_key(source: SourceRef) -> str:
    """The checkpoint key of a partition: ``"<topic>:<partition>"``."""
    return f"{source.topic}:{source.partition}"


class Pipeline:
    """Decode, extract, clean and tag a batch; ``tagger`` is a ``ports.Tagger`` (``langid.LanguageTagger``)."""

    def __init__(self, tagger: Tagger, *, max_record_bytes: int = 8 * 1024 * 1024,
                 page_time_budget_s: float = 2.0) -> None:
        self.tagger = tagger
        self.max_record_bytes = max_record_bytes
        self.page_time_budget_s = page_time_budget_s

    def run(self, messages: Iterable[RawMessage]) -> BatchResult:
        """Process every message of a batch; never raises for bad input."""
        result = BatchResult()
        for message in messages:
            result.records += 1
            if message.source is not None:
                key = offset_key(message.source)
                result.offsets[key] = max(result.offsets.get(key, 0), message.source.offset + 1)
            try:
                self._process(message, result)
            except RecordError as exc:
                result.dead_letters.append(DeadLetter(message, exc.reason, exc.detail))
            except PageDropped as exc:
                result.drops[exc.reason] += 1
            except Exception as exc:
                log.exception("processing a record failed (source %s)", message.source)
                result.dead_letters.append(DeadLetter(message, INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"))
        return result

    def _process(self, message: RawMessage, result: BatchResult) -> None:
        record = decode_record(message.value, message.headers, max_bytes=self.max_record_bytes)
        page = self.page_faq(record)
        if not page.pairs:
            result.drops[NO_FAQPAGE] += 1
            return
        result.pages_with_faq += 1
        kept, dropped = clean_pairs(page.pairs)
        for item in dropped:
            result.drops[item.reason] += 1
        for pair in kept:
            language, score = self.tagger.tag(pair.question, pair.answer, record.url, page.title,
                                              page.description, origin=record.origin)
            if language is None:
                result.drops[LANGUAGE_UNCERTAIN] += 1
                continue
            result.pairs.append(TaggedPair(
                id=pair.id, origin=record.origin, url=record.url, language=language,
                language_score=float(score), question=pair.question, answer=pair.answer,
                title=page.title, description=page.description, seen=record.warc_date))

    def page_faq(self, record: CrawlRecord) -> PageFAQ:
        """The page's pairs and context: the envelope's ``faq`` as-is, else extraction."""
        if record.faq is not None:
            pairs = tuple(RawPair(question.strip(), answer.strip()) for question, answer in record.faq)
            return PageFAQ(pairs=pairs, title=record.title or "", description=record.description or "")
        page = extract_faq(record.html, record.url, charset=record.charset, json_ld=record.json_ld,
                           max_bytes=self.max_record_bytes, time_budget_s=self.page_time_budget_s)
        if record.title is None and record.description is None:
            return page
        return PageFAQ(pairs=page.pairs, title=record.title if record.title is not None else page.title,
                       description=record.description if record.description is not None
                       else page.description)


def messages_from(values: Sequence[bytes], topic: str = "test", partition: int = 0) -> list[RawMessage]:
    """Raw messages with consecutive offsets (for tools and tests that have only values)."""
    return [RawMessage(value, source=SourceRef(topic, partition, offset)) for offset, value in enumerate(values)]
