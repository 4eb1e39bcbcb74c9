"""Publishing crawl files onto the crawl topic: what ``webfaq-stream publish`` and the one-shot ingest do.

``publish_files(settings, paths)`` creates the crawl topic (``Settings.partitions``) and the dead-letter
topic when they are missing, sends one message per WARC response record or JSON envelope keyed by
origin (:mod:`webfaq_stream.adapters.crawl_files`), waits for every acknowledgement and returns a
:class:`PublishResult` with the last offset per partition (what a drain check compares committed
offsets with). A record over the producer's size limit is reported on stderr, counted in ``skipped``
as ``too_large`` and not sent; the others still are; a WARC record that cannot be framed is reported
on stderr with its file offset (``framing_errors``) and reading goes on. Progress on stderr when
``progress``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from webfaq_stream.settings import Settings


@dataclass
class PublishResult:
    """What was published: message counts, skipped WARC records, records that could not be framed
    (``"<file>: offset N: <what>"``), last offset per partition."""

    topic: str
    messages: int
    warc_records: int
    envelopes: int
    skipped: dict[str, int] = field(default_factory=dict)
    last_offsets: dict[int, int] = field(default_factory=dict)
    framing_errors: list[str] = field(default_factory=list)


def publish_files(settings: Settings, paths: list[Path], *, bootstrap: str | None = None,
                  compress: bool = False, progress: bool = True) -> PublishResult:
    """Create topics if missing, publish every record of ``paths``, wait for all acknowledgements.

    A record over the producer's size limit is reported on stderr, counted in ``skipped`` as
    ``too_large`` and not sent; the others still are. A WARC record that cannot be framed is reported
    on stderr with its file offset; reading goes on with the next record."""
    from tqdm import tqdm

    from webfaq_stream.adapters.crawl_files import FileStats, read_messages
    from webfaq_stream.adapters.kafka.client import Publisher, RecordTooLargeError, ensure_topics
    from webfaq_stream.adapters.kafka.security import kafka_client_kwargs

    if bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap": bootstrap})
    options = kafka_client_kwargs(settings)
    ensure_topics(options, {settings.topic: settings.partitions, settings.dead_letter_topic: 1},
                  settings.replication_factor)
    stats = FileStats()
    with tqdm(desc=f"publish to {settings.topic}", unit="rec", file=sys.stderr,
              disable=None if progress else True) as bar, Publisher(options, settings.topic) as publisher:
        for message in read_messages(paths, stats, compress=compress):
            try:
                publisher.send(message.value, message.key, message.headers, on_delivery=bar.update)
            except RecordTooLargeError as exc:  # reported, counted, and the rest still goes out
                print(f"webfaq-stream publish: skipped: {exc}", file=sys.stderr)
                stats.skip("too_large")
        last_offsets = publisher.flush()
    for error in stats.framing_errors:
        print(f"webfaq-stream publish: broken WARC framing: {error}", file=sys.stderr)
    return PublishResult(settings.topic, publisher.sent, stats.warc_records, stats.envelopes,
                         dict(stats.skipped), last_offsets, list(stats.framing_errors))
