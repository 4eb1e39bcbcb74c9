"""Value types that flow between the pipeline's steps.

All are immutable dataclasses; steps take them and return new ones. Times are ISO-8601
UTC strings (``2026-11-22T10:00:00Z``, :func:`iso_time`) so that they sort as text and serialise
as-is; :func:`utc_now` is the one clock of the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from webfaq_stream.domain.reasons import Reason


def utc_now() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)


def iso_time(moment: datetime) -> str:
    """``moment`` as the package's time text, ``YYYY-MM-DDTHH:MM:SSZ`` in UTC (naive times are UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a record came from on the topic (for dead letters and checkpoints)."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class CrawlRecord:
    """One decoded crawl record (README, "Records on the topic"), whatever its wire format.

    ``html`` holds the payload bytes as received (not yet decoded to text); ``charset``
    is the charset declared by the HTTP headers, if any. For JSON envelopes the optional
    fields carry what the producer already knew (OWI Parquet rows carry ``faq``, ``json_ld``
    and ``microdata``: markup the page declared, as JSON texts). ``record_id`` is the WARC
    record id (or OWI's ``record_id``); ``ows_index`` / ``ows_genai`` are the page's Open Web
    Search opt-out flags (``None``: not stated).
    ``warc_date_fallback`` is set when the record's own date could not be read and ``warc_date``
    came from elsewhere (``"http-date"``: the HTTP ``Date`` header; ``"decode-time"``: the time
    the record was decoded); None when ``warc_date`` is the record's own.
    """

    url: str
    origin: str
    warc_date: str
    html: bytes
    charset: str | None = None
    title: str | None = None
    description: str | None = None
    language: str | None = None
    json_ld: tuple[str, ...] | None = None
    faq: tuple[tuple[str, str], ...] | None = None
    warc_date_fallback: str | None = None
    microdata: tuple[str, ...] | None = None
    record_id: str | None = None
    ows_index: bool | None = None
    ows_genai: bool | None = None


@dataclass(frozen=True, slots=True)
class RawPair:
    """A question-answer pair as the markup states it, text already cleaned of HTML."""

    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class PageFAQ:
    """What extraction found on one page: its pairs (document order) and page context."""

    pairs: tuple[RawPair, ...]
    title: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class CleanPair:
    """A pair that passed the WebFAQ filters, with WebFAQ's md5 ``id``."""

    id: str
    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class Dropped:
    """A pair removed by a filter, with the named reason (counted in metrics)."""

    reason: Reason
    question: str = ""
    answer: str = ""


@dataclass(frozen=True, slots=True)
class Label:
    """A text classifier's label for a pair, its score (the label's probability) and the model's id."""

    label: str
    score: float
    model: str


@dataclass(frozen=True, slots=True)
class PairLabels:
    """What the labelling stage says about a pair: WebFAQ v1's question-word type (``None`` outside
    the covered languages) and the topic and question-type classifiers' labels (``None`` without a
    configured model). In the store's payload and the releases they are flat fields (:data:`FIELDS`)."""

    question_word_type: str | None = None
    topic: Label | None = None
    question_type: Label | None = None

    FIELDS = ("question_word_type", "topic", "topic_score", "topic_model",
              "question_type", "question_type_score", "question_type_model")

    def payload(self) -> dict[str, Any]:
        """The flat payload fields (``None`` where a label is missing)."""
        values: dict[str, Any] = {"question_word_type": self.question_word_type}
        for name in ("topic", "question_type"):
            label: Label | None = getattr(self, name)
            values[name] = label.label if label else None
            values[f"{name}_score"] = label.score if label else None
            values[f"{name}_model"] = label.model if label else None
        return values

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> PairLabels:
        """Rebuild from flat payload fields; a label without its model or score counts as missing."""
        labels: dict[str, Label | None] = {}
        for name in ("topic", "question_type"):
            label, score = payload.get(name), payload.get(f"{name}_score")
            model = payload.get(f"{name}_model")
            if isinstance(label, str) and isinstance(model, str) and isinstance(score, int | float):
                labels[name] = Label(label, float(score), model)
            else:
                labels[name] = None
        word_type = payload.get("question_word_type")
        return cls(question_word_type=word_type if isinstance(word_type, str) else None, **labels)


@dataclass(frozen=True, slots=True)
class TaggedPair:
    """A clean pair with its language (ISO 639-3) and page context, ready to embed."""

    id: str
    origin: str
    url: str
    language: str
    language_score: float
    question: str
    answer: str
    title: str
    description: str
    seen: str
    labels: PairLabels = PairLabels()
    record_id: str | None = None
    source: SourceRef | None = None

    def embedding_text(self) -> str:
        """The text that is embedded: ``question answer``."""
        return f"{self.question} {self.answer}"


@dataclass(slots=True)
class StoredPair:
    """A point in the store: a tagged pair plus store-maintained fields.

    ``aligned`` maps a language to ``{"id": partner_id, "similarity": float}``.
    ``vector`` (the store vector: question and answer, see ``domain.align.question_answer_vectors``)
    and ``wide_vector`` (the alignment model's question vector, kept only for pairs that need it)
    are present only when they were asked for. ``semantic_similarity_score`` is WebFAQ v2's cosine of
    the question's and the answer's embeddings (``None`` where the model does not know the language).
    ``labels`` are stored as the flat fields ``PairLabels.FIELDS`` next to ``PAYLOAD_FIELDS``.
    Provenance (``record_id``, ``source_*``): the sighting that last changed the stored pair (a sighting that changes nothing writes nothing,
    so it never moves the provenance on its own); ``None`` where unknown.
    """

    id: str
    origin: str
    url: str
    language: str
    language_score: float
    question: str
    answer: str
    title: str
    description: str
    first_seen: str
    last_seen: str
    near_duplicate_similarity: float | None = None
    aligned: dict[str, dict[str, Any]] = field(default_factory=dict)
    record_id: str | None = None
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    semantic_similarity_score: float | None = None
    vector: list[float] | None = None
    labels: PairLabels = PairLabels()
    wide_vector: list[float] | None = None

    PAYLOAD_FIELDS = (
        "id", "origin", "url", "language", "language_score", "question", "answer", "title",
        "description", "first_seen", "last_seen", "near_duplicate_similarity", "aligned",
        "record_id", "source_topic", "source_partition", "source_offset",
        "semantic_similarity_score",
    )
    #: Where the sighting that last changed the pair was read: not part of what the pair is, so two
    #: runs over the same records (other topics, offsets or batches) may differ only in these.
    PROVENANCE_FIELDS = ("record_id", "source_topic", "source_partition", "source_offset")

    def payload(self) -> dict[str, Any]:
        """The Qdrant payload of this point (everything but the vector)."""
        return {**{name: getattr(self, name) for name in self.PAYLOAD_FIELDS}, **self.labels.payload()}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], vector: list[float] | None = None,
                     wide_vector: list[float] | None = None) -> StoredPair:
        """Rebuild from a Qdrant payload; unknown keys are ignored."""
        values: dict[str, Any] = {name: payload.get(name) for name in cls.PAYLOAD_FIELDS}
        values["aligned"] = dict(values.get("aligned") or {})
        return cls(**values, vector=vector, wide_vector=wide_vector, labels=PairLabels.from_payload(payload))


class PageDropped(Exception):
    """A page was decoded but is not processed (``reason``: too large, too slow, HTTP status, ...).

    An outcome, not an error: the pipeline counts it in ``drops`` by ``reason`` and goes on. It is
    deliberately outside the ``WebFAQError`` hierarchy, so no failure handler ever retries it,
    dead-letters it or reports it as a failure.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)
