"""Publishing crawl files onto the crawl topic: what ``webfaq-stream publish`` and the one-shot ingest do.

``publish_files(settings, paths)`` creates the crawl topic (``Settings.partitions``) and the dead-letter
topic when they are missing, sends one message per WARC response record, JSON envelope or OWI row keyed
by origin (:mod:`webfaq_stream.adapters.crawl_files`, :mod:`webfaq_stream.adapters.owi`), waits for
every acknowledgement and returns a :class:`PublishResult` with the last offset per partition (what a
drain check compares committed offsets with). A record over the producer's size limit is reported on
stderr, counted in ``skipped`` as ``too_large`` and not sent; the others still are; a WARC record that
cannot be framed is reported on stderr with its file offset (``framing_errors``) and reading goes on.
Progress on stderr when ``progress``.

OWI shards are read a record batch at a time. A row that declares no FAQ (no ``faq`` list, and no
``faqpage`` in its JSON-LD, microdata or HTML) is not sent: the worker would find nothing in it
(counted in ``skipped["no_faq_markup"]``). A row that cannot be read is reported on stderr with its
file and row number and listed in ``unreadable``; the other rows still go out.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webfaq_stream.adapters.crawl_files import FileStats, Message, read_messages
from webfaq_stream.adapters.owi import is_parquet, owi_rows, row_count
from webfaq_stream.settings import Settings


@dataclass
class PublishResult:
    """What was published: message counts, skipped records, records that could not be framed
    (``"<file>: offset N: <what>"``), OWI rows read and those that could not be, last offset per partition."""

    topic: str
    messages: int
    warc_records: int
    envelopes: int
    skipped: dict[str, int] = field(default_factory=dict)
    last_offsets: dict[int, int] = field(default_factory=dict)
    framing_errors: list[str] = field(default_factory=list)
    owi_rows: int = 0
    unreadable: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "messages": self.messages, "warc_records": self.warc_records,
                "envelopes": self.envelopes, "owi_rows": self.owi_rows, "skipped": self.skipped,
                "framing_errors": self.framing_errors, "unreadable": self.unreadable,
                "last_offsets": {str(p): o for p, o in self.last_offsets.items()}}


@dataclass
class ShardStats:
    """Rows read from OWI shards, rows not worth sending, rows that cannot be read."""

    rows: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    unreadable: list[dict[str, Any]] = field(default_factory=list)


def shard_messages(path: Path, stats: ShardStats, *, name: str, start_row: int = 0,
                   report: Callable[[str], None] | None = None) -> Iterator[tuple[int, Message | None]]:
    """``(row, message)`` for every row of an OWI shard from ``start_row`` on; ``message`` is ``None``
    for a row not sent (no FAQ markup, or unreadable: reported through ``report`` and ``stats``)."""
    for row in owi_rows(path, start_row=start_row, name=name, faq_only=True):
        stats.rows += 1
        if row.error is not None:
            stats.unreadable.append({"file": name, "row": row.row, "reason": row.error})
            if report is not None:
                report(f"{name}: row {row.row} cannot be read: {row.error}")
        elif row.skipped is not None:
            stats.skipped[row.skipped] += 1
        yield row.row, row.message


def report_on_stderr(line: str) -> None:
    print(f"webfaq-stream publish: {line}", file=sys.stderr)


def kafka_options(settings: Settings, bootstrap: str | None = None) -> dict[str, Any]:
    """Client options for ``settings`` (``bootstrap`` overrides the servers) with the topics created."""
    from webfaq_stream.adapters.kafka.client import ensure_topics
    from webfaq_stream.adapters.kafka.security import kafka_client_kwargs

    options = kafka_client_kwargs(settings, bootstrap)
    ensure_topics(options, {settings.topic: settings.partitions, settings.dead_letter_topic: 1},
                  settings.replication_factor)
    return options


def publish_files(settings: Settings, paths: list[Path], *, bootstrap: str | None = None,
                  compress: bool = False, progress: bool = True) -> PublishResult:
    """Create topics if missing, publish every record of ``paths``, wait for all acknowledgements
    (see the module docstring)."""
    from tqdm import tqdm

    from webfaq_stream.adapters.kafka.client import Publisher, RecordTooLargeError

    options = kafka_options(settings, bootstrap)
    files, shards = FileStats(), ShardStats()
    parquet = {path for path in paths if is_parquet(path)}
    total = sum(row_count(path) for path in parquet) if parquet and len(parquet) == len(paths) else None
    with tqdm(desc=f"publish to {settings.topic}", unit="rec", file=sys.stderr, total=total,
              disable=None if progress else True) as bar, Publisher(options, settings.topic) as publisher:
        for path in paths:
            if path in parquet:
                messages: Iterator[Message | None] = (
                    message for _, message in shard_messages(path, shards, name=str(path), report=report_on_stderr))
            else:
                messages = read_messages([path], files, compress=compress)
            for message in messages:
                if message is None:
                    bar.update()
                    continue
                try:
                    publisher.send(message.value, message.key, message.headers, on_delivery=bar.update)
                except RecordTooLargeError as exc:  # reported, counted, and the rest still goes out
                    report_on_stderr(f"skipped: {exc}")
                    files.skip("too_large")
        last_offsets = publisher.flush()
    for error in files.framing_errors:
        report_on_stderr(f"broken WARC framing: {error}")
    return PublishResult(settings.topic, publisher.sent, files.warc_records, files.envelopes,
                         dict(Counter(files.skipped) + shards.skipped), last_offsets, list(files.framing_errors),
                         owi_rows=shards.rows, unreadable=shards.unreadable)
