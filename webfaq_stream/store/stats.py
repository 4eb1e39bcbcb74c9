"""Cumulative ingestion counts and the one-shot summary people read.

:class:`IngestStats` is what the worker keeps in the store's ``worker_stats`` meta document,
written in the same operation as each batch's pairs and checkpoint, so the counts match what
is stored: records read, records skipped because the checkpoint already covered them (replays
after a crash), pages with FAQs, pairs kept, drops and dead letters by reason, kept pairs per
language. :func:`format_summary` renders the counts of one run (``after - before``) together
with the release that was written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from webfaq_stream.domain.reasons import PAIR_DROP_REASONS

STATS_KEY = "worker_stats"
_COUNTS = ("records", "replayed", "pages_with_faq", "pairs_kept")
_TALLIES = ("drops", "dead_letters", "languages")


@dataclass
class IngestStats:
    """Counts of a worker (or of one run, as a difference of two snapshots)."""

    records: int = 0
    replayed: int = 0
    pages_with_faq: int = 0
    pairs_kept: int = 0
    drops: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    languages: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_meta(cls, document: Mapping[str, Any] | None) -> IngestStats:
        """Rebuild from a meta document (``None`` or missing fields count as zero)."""
        document = document or {}
        stats = cls()
        for name in _COUNTS:
            setattr(stats, name, int(document.get(name) or 0))
        for name in _TALLIES:
            getattr(stats, name).update({str(k): int(v) for k, v in (document.get(name) or {}).items()})
        return stats

    def as_meta(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in _COUNTS}
        out.update({name: dict(sorted(getattr(self, name).items())) for name in _TALLIES})
        return out

    def add(self, other: IngestStats) -> IngestStats:
        """The sum of both (a new object)."""
        total = IngestStats(**{name: getattr(self, name) + getattr(other, name) for name in _COUNTS})
        for name in _TALLIES:
            getattr(total, name).update(getattr(self, name))
            getattr(total, name).update(getattr(other, name))
        return total

    def minus(self, before: IngestStats) -> IngestStats:
        """What was added since ``before`` (counts never go below zero)."""
        delta = IngestStats(**{name: max(0, getattr(self, name) - getattr(before, name)) for name in _COUNTS})
        for name in _TALLIES:
            tally = Counter(getattr(self, name))
            tally.subtract(getattr(before, name))
            getattr(delta, name).update({k: v for k, v in tally.items() if v > 0})
        return delta

    @property
    def pairs_dropped(self) -> int:
        """Pairs removed by a filter or language id: the drops whose reason is a pair reason
        (:data:`~webfaq_stream.domain.reasons.PAIR_DROP_REASONS`; page drops such as ``no_faqpage`` are
        not pairs)."""
        return sum(count for reason, count in self.drops.items() if reason in PAIR_DROP_REASONS)


def _tally(counter: Mapping[str, int]) -> str:
    if not counter:
        return "none"
    return ", ".join(f"{key} {count}" for key, count in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def format_summary(run: IngestStats, *, stored_languages: Mapping[str, int] | None = None,
                   aligned_pairs: int | None = None, release_path: str | None = None,
                   published: int | None = None) -> str:
    """A few lines: what this run read, kept and dropped, and where the release is."""
    lines = ["webfaq-stream ingest summary"]
    if published is not None:
        lines.append(f"  records published      {published}")
    lines += [
        f"  records read           {run.records}" + (f" (+{run.replayed} replayed)" if run.replayed else ""),
        f"  pages with FAQs        {run.pages_with_faq}",
        f"  pairs kept             {run.pairs_kept}",
        f"  pairs dropped          {run.pairs_dropped}",
        f"  drops by reason        {_tally(run.drops)}",
        f"  dead letters           {_tally(run.dead_letters)}",
        f"  pairs per language     {_tally(run.languages)}",
    ]
    if stored_languages is not None:
        lines.append(f"  store per language     {_tally(stored_languages)} "
                     f"(total {sum(stored_languages.values())})")
    if aligned_pairs is not None:
        lines.append(f"  aligned pairs          {aligned_pairs}")
    if release_path is not None:
        lines.append(f"  release                {release_path}")
    return "\n".join(lines)
