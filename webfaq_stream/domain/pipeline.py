"""The one pipeline: a page's pairs extracted, cleaned and language-tagged; a batch of raw messages
decoded and run through it. The worker, ``webfaq-stream extract`` and ``webfaq-stream calibrate`` all
call it.

- ``Pipeline(tagger, max_record_bytes=..., page_time_budget_s=..., opt_out_policy=...)`` holds the
  language tagger (``langid.LanguageTagger``), the page limits and the opt-out policy;
  ``Pipeline.from_settings(settings)`` builds the one the configuration describes (what the worker,
  ``extract`` and ``calibrate`` use). No I/O beyond loading the language model; no adapter.
- ``page_faq(record)``: the page's raw pairs and context (the envelope's ``faq`` list as-is, else
  extraction, :mod:`webfaq_stream.extract.page`); raises ``PageDropped`` with a page reason.
- ``tag_page(record) -> PageResult``: one :class:`PairOutcome` per raw pair, in document order: kept (a
  :class:`TaggedPair`) or dropped with its :class:`~webfaq_stream.domain.reasons.Reason` (WebFAQ's filters,
  :mod:`webfaq_stream.domain.clean`, then ``language_uncertain`` for pairs fastText cannot tell).
- ``run(messages) -> BatchResult``: for each :class:`RawMessage`, in order: decode
  (:mod:`webfaq_stream.decode.records`), the opt-out policy (:func:`opted_out`: such a page is a
  ``opted_out`` page drop), then ``tag_page``; each kept pair carries its provenance (the record id and
  the message's topic/partition/offset).

Guarantees of ``run``:
- every message ends up in exactly one of: ``dead_letters`` (undecodable: the reason from
  ``RecordError``, or ``internal_error`` when a step failed unexpectedly), a page drop counted in
  ``drops`` (``http_status``, ``too_large``, ``too_slow``, ``no_faqpage``, ``opted_out``...), or a page with
  pairs (``pages_with_faq``); every extracted pair is either in ``pairs`` or counted in ``drops``
  by its reason;
- one bad message never affects the others;
- ``offsets`` holds, per ``"topic:partition"``, the offset after the last message of the batch
  (what the checkpoint records), for every message with a source, whatever happened to it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from webfaq_stream.decode.records import decode_record
from webfaq_stream.domain.clean import clean_each
from webfaq_stream.domain.ids import origin_of
from webfaq_stream.domain.model import (
    CrawlRecord,
    Dropped,
    PageDropped,
    PageFAQ,
    RawPair,
    SourceRef,
    TaggedPair,
)
from webfaq_stream.domain.reasons import Reason
from webfaq_stream.errors import RecordError
from webfaq_stream.extract.page import extract_faq
from webfaq_stream.ports import Tagger

log = logging.getLogger(__name__)

#: ``seen`` of pages that have no fetch time (local files in ``extract`` and ``calibrate``).
NO_FETCH_TIME = "1970-01-01T00:00:00Z"
#: Opt-out policies (``Settings.opt_out_policy``): ``genai_or_index`` keeps out pages whose
#: ``ows_genai`` or ``ows_index`` is false, ``genai`` only those whose ``ows_genai`` is false,
#: ``ignore`` takes every page. Pages that state no flag are always taken.
OPT_OUT_POLICIES = ("genai_or_index", "genai", "ignore")


def opted_out(record: CrawlRecord, policy: str) -> bool:
    """Whether ``policy`` keeps ``record`` out of the dataset (see :data:`OPT_OUT_POLICIES`)."""
    if policy == "ignore":
        return False
    return record.ows_genai is False or (policy == "genai_or_index" and record.ows_index is False)


class PipelineSettings(Protocol):
    """What :meth:`Pipeline.from_settings` reads (``webfaq_stream.settings.Settings`` has it)."""

    @property
    def max_record_bytes(self) -> int: ...

    @property
    def page_time_budget_s(self) -> float: ...

    @property
    def langid_model_path(self) -> Path | None: ...

    @property
    def language_overrides(self) -> Path | None: ...

    @property
    def opt_out_policy(self) -> str: ...


@dataclass(frozen=True, slots=True)
class PairOutcome:
    """What became of one extracted pair: ``kept`` or dropped for ``reason`` (exactly one is set).

    ``index`` is its 1-based position among the page's raw pairs (document order); ``question`` and
    ``answer`` are as the filters left them; ``language_score`` is set once language id ran (kept and
    ``language_uncertain`` pairs).
    """

    index: int
    question: str
    answer: str
    kept: TaggedPair | None = None
    reason: Reason | None = None
    language_score: float | None = None


@dataclass(frozen=True, slots=True)
class PageResult:
    """A page through the pipeline: its context and one outcome per raw pair."""

    title: str
    description: str
    outcomes: tuple[PairOutcome, ...]

    @property
    def pairs(self) -> list[TaggedPair]:
        """The kept pairs, in document order."""
        return [outcome.kept for outcome in self.outcomes if outcome.kept is not None]


def page_record(url: str, html: bytes, charset: str | None = None, seen: str = NO_FETCH_TIME) -> CrawlRecord:
    """A :class:`CrawlRecord` for a page read from a file (``origin`` is empty unless ``url`` is http(s))."""
    try:
        origin = origin_of(url)
    except ValueError:
        origin = ""
    return CrawlRecord(url=url, origin=origin, warc_date=seen, html=html, charset=charset)


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

    def drop_pairs(self, reason: str, dropped: Callable[[str, str], bool]) -> list[int]:
        """Move the pairs whose ``(origin, url)`` ``dropped`` accepts out of ``pairs`` and count them in
        ``drops[reason]``; returns the indexes (into ``pairs`` as it was) of the pairs kept."""
        kept = [i for i, pair in enumerate(self.pairs) if not dropped(pair.origin, pair.url)]
        if len(kept) < len(self.pairs):
            self.drops[reason] += len(self.pairs) - len(kept)
            self.pairs = [self.pairs[i] for i in kept]
        return kept

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
    """Extract, clean and tag pages; run batches of raw messages (see the module contract).

    ``tagger`` is a ``ports.Tagger`` (``langid.LanguageTagger``); a pipeline without one can only
    :meth:`page_faq`.
    """

    def __init__(self, tagger: Tagger | None, *, max_record_bytes: int = 8 * 1024 * 1024,
                 page_time_budget_s: float = 2.0, opt_out_policy: str = OPT_OUT_POLICIES[0]) -> None:
        if opt_out_policy not in OPT_OUT_POLICIES:
            raise ValueError(f"unknown opt-out policy {opt_out_policy!r}; one of {OPT_OUT_POLICIES}")
        self.tagger = tagger
        self.max_record_bytes = max_record_bytes
        self.page_time_budget_s = page_time_budget_s
        self.opt_out_policy = opt_out_policy

    @classmethod
    def from_settings(cls, settings: PipelineSettings, *, language_id: bool = True) -> Pipeline:
        """The configured pipeline: ``settings``' page limits and language tagger (model and origin
        overrides). Without ``language_id`` no tagger is loaded: only :meth:`page_faq` may be called."""
        from webfaq_stream.domain.langid import LanguageTagger  # fastText: only when tagging

        tagger = (LanguageTagger(settings.langid_model_path, settings.language_overrides)
                  if language_id else None)
        return cls(tagger, max_record_bytes=settings.max_record_bytes,
                   page_time_budget_s=settings.page_time_budget_s, opt_out_policy=settings.opt_out_policy)

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
                result.dead_letters.append(DeadLetter(message, Reason.INTERNAL_ERROR,
                                                      f"{type(exc).__name__}: {exc}"))
        return result

    def _process(self, message: RawMessage, result: BatchResult) -> None:
        record = decode_record(message.value, message.headers, max_bytes=self.max_record_bytes)
        if opted_out(record, self.opt_out_policy):
            raise PageDropped(Reason.OPTED_OUT, f"ows_genai={record.ows_genai} ows_index={record.ows_index}")
        page = self.tag_page(record, source=message.source)
        if not page.outcomes:
            result.drops[Reason.NO_FAQPAGE] += 1
            return
        result.pages_with_faq += 1
        for outcome in page.outcomes:
            if outcome.kept is not None:
                result.pairs.append(outcome.kept)
            elif outcome.reason is not None:
                result.drops[outcome.reason] += 1

    def tag_page(self, record: CrawlRecord, source: SourceRef | None = None) -> PageResult:
        """The page's raw pairs cleaned and tagged, one outcome each (kept pairs with the record's id
        and ``source`` as provenance); raises ``PageDropped``."""
        if self.tagger is None:
            raise ValueError("this pipeline was built without language id (from_settings(language_id=False))")
        page = self.page_faq(record)
        outcomes: list[PairOutcome] = []
        for index, cleaned in enumerate(clean_each(page.pairs), start=1):
            if isinstance(cleaned, Dropped):
                outcomes.append(PairOutcome(index, cleaned.question, cleaned.answer, reason=cleaned.reason))
                continue
            language, score = self.tagger.tag(
                cleaned.question, cleaned.answer, record.url, page.title, page.description, origin=record.origin)
            if language is None:
                outcomes.append(PairOutcome(index, cleaned.question, cleaned.answer,
                                            reason=Reason.LANGUAGE_UNCERTAIN, language_score=float(score)))
                continue
            outcomes.append(PairOutcome(index, cleaned.question, cleaned.answer, language_score=float(score),
                                        kept=TaggedPair(
                id=cleaned.id, origin=record.origin, url=record.url, language=language,
                language_score=float(score), question=cleaned.question, answer=cleaned.answer,
                title=page.title, description=page.description, seen=record.warc_date,
                record_id=record.record_id, source=source)))
        return PageResult(page.title, page.description, tuple(outcomes))

    def page_faq(self, record: CrawlRecord) -> PageFAQ:
        """The page's pairs and context: the envelope's ``faq`` as-is, else extraction."""
        if record.faq is not None:
            pairs = tuple(RawPair(question.strip(), answer.strip()) for question, answer in record.faq)
            return PageFAQ(pairs=pairs, title=record.title or "", description=record.description or "")
        page = extract_faq(record.html, record.url, charset=record.charset, json_ld=record.json_ld,
                           microdata=record.microdata, max_bytes=self.max_record_bytes,
                           time_budget_s=self.page_time_budget_s)
        if record.title is None and record.description is None:
            return page
        return PageFAQ(pairs=page.pairs, title=record.title if record.title is not None else page.title,
                       description=record.description if record.description is not None
                       else page.description)
