"""``webfaq-stream publish --follow DIR``: publish every OWI shard that appears under DIR, oldest first,
each row exactly once by a durable cursor's account, through restarts and SIGKILL.

DIR is laid out as owilix's cache (``.../year=YYYY/month=M/day=D/language=LLL/*.parquet``; a
``YYYY-MM-DD`` folder counts as a date too). A shard is taken once it is *settled*: its last change
is at least ``settle_s`` old and its Parquet footer reads (a file still being written has neither),
and names starting with ``.`` are never taken. Shards go oldest first (by the date in their path,
then by path in natural order); a shard begun before a restart is finished first.

The cursor (``Settings.follow_cursor``, JSON, replaced atomically and fsynced) holds per shard its
size and mtime when begun, the next row to publish, whether it is done, and rows sent, skipped
(no FAQ markup) and unreadable; per partition the last acknowledged offset; and the chunk in flight.
A shard is published in chunks of ``chunk_rows`` rows:

1. the cursor records the chunk as in flight, with per partition the lowest offset its messages can
   land at (after the last acknowledged one, and not below the end offset read at start);
2. its messages are sent (headers ``owi-file``, ``owi-row`` and ``follow-id``, the cursor's id) and
   every one is acknowledged (flush);
3. the cursor moves the shard's next row past the chunk and clears the chunk in flight.

A follower that starts with a chunk in flight (it was killed during step 2) reads the topic back from
those offsets and sends only the rows of that chunk that are not already there; so no row is
skipped and none is sent twice, without relying on the worker's idempotence. A shard whose size or
mtime changed after it was begun is reported and left as it is (OWI shards do not change).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

from webfaq_stream.adapters.request_files import write_json_atomic
from webfaq_stream.errors import ConfigurationError, CrawlFileError
from webfaq_stream.settings import Settings
from webfaq_stream.worker.publish import ShardStats, report_on_stderr, shard_messages

log = logging.getLogger(__name__)

CURSOR_FORMAT = 1
FOLLOW_ID_HEADER = "follow-id"
_PARTITION = re.compile(r"^(year|month|day)=(\d{1,4})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DIGITS = re.compile(r"(\d+)")


def shard_date(relative: str) -> date | None:
    """The date a shard's path names (``year=/month=/day=`` folders or a ``YYYY-MM-DD`` folder)."""
    parts: dict[str, int] = {}
    for part in Path(relative).parts[:-1]:
        if match := _PARTITION.match(part):
            parts[match.group(1)] = int(match.group(2))
        elif match := _DAY.match(part):
            parts.update(year=int(match.group(1)), month=int(match.group(2)), day=int(match.group(3)))
    try:
        return date(parts["year"], parts.get("month", 1), parts.get("day", 1)) if "year" in parts else None
    except ValueError:
        return None


def shard_order(relative: str) -> tuple[Any, ...]:
    """Oldest first: the path's date (undated shards first), then the path in natural order."""
    moment = shard_date(relative)
    return (moment or date.min, [int(t) if t.isdigit() else t for t in _DIGITS.split(relative)])


@dataclass
class Cursor:
    """The follower's durable account (see the module docstring); ``save()`` replaces the file atomically."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, root: Path, topic: str) -> Cursor:
        """The cursor at ``path``, or a new one; ``ConfigurationError`` when it follows another DIR or topic."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {"format": CURSOR_FORMAT, "id": uuid.uuid4().hex, "root": str(root), "topic": topic,
                    "files": {}, "last_offsets": {}, "in_flight": None}
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"WEBFAQ_FOLLOW_CURSOR: unreadable cursor {path}: {exc}") from None
        if (data.get("root"), data.get("topic")) != (str(root), topic):
            raise ConfigurationError(f"WEBFAQ_FOLLOW_CURSOR: {path} follows {data.get('root')} onto "
                                     f"{data.get('topic')}, not {root} onto {topic}; use another cursor file")
        return cls(path, data)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, self.data, durable=True)

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return self.data["files"]

    @property
    def last_offsets(self) -> dict[int, int]:
        return {int(p): int(o) for p, o in self.data["last_offsets"].items()}

    def acknowledged(self, offsets: dict[int, int]) -> None:
        merged = self.last_offsets
        for partition, offset in offsets.items():
            merged[partition] = max(offset, merged.get(partition, -1))
        self.data["last_offsets"] = {str(p): o for p, o in sorted(merged.items())}

    def totals(self) -> dict[str, int]:
        """Rows sent, skipped and unreadable over every shard, and shards done."""
        entries = self.files.values()
        return {"shards_done": sum(1 for e in entries if e.get("done")),
                **{name: sum(int(e.get(name, 0)) for e in entries) for name in ("sent", "skipped", "unreadable")}}


class ShardFollower:
    """Follows ``root`` onto the crawl topic with ``cursor_path`` (see the module docstring)."""

    def __init__(self, settings: Settings, root: Path, *, cursor_path: Path | None = None,
                 chunk_rows: int = 1000, settle_s: float = 10.0, poll_s: float = 30.0,
                 readback_idle_s: float = 3.0, bootstrap: str | None = None) -> None:
        from webfaq_stream.worker.publish import kafka_options

        self.settings = settings
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise ConfigurationError(f"publish --follow: no such directory: {root}")
        self.chunk_rows = max(1, chunk_rows)
        self.settle_s = settle_s
        self.poll_s = poll_s
        self.readback_idle_s = readback_idle_s
        self.options = kafka_options(settings, bootstrap)
        self.cursor = Cursor.load(Path(cursor_path or settings.follow_cursor), self.root, settings.topic)
        self.stop = threading.Event()
        self._floor: dict[int, int] = {}
        self._warned: set[str] = set()

    # --- the loop ----------------------------------------------------------------------------
    def run(self, *, once: bool = False) -> dict[str, int]:
        """Publish settled shards until ``stop`` is set (``once``: until none is left); returns the totals."""
        from webfaq_stream.adapters.kafka.client import Publisher
        from webfaq_stream.adapters.kafka.inspect import end_offsets

        self._floor = end_offsets(self.options, self.settings.topic)
        with Publisher(self.options, self.settings.topic, client_id="webfaq-follow") as publisher:
            if self.cursor.data.get("in_flight"):
                self._recover(publisher)
            while not self.stop.is_set():
                ready = self.ready_shards()
                for relative in ready:
                    if self.stop.is_set():
                        break
                    self._publish_shard(publisher, relative)
                if once and not ready:
                    break
                if not ready:
                    self.stop.wait(self.poll_s)
        return self.cursor.totals()

    def ready_shards(self) -> list[str]:
        """Settled shards not done yet, the one begun first, then oldest first."""
        now = time.time()
        found = []
        for path in self.root.rglob("*.parquet"):
            relative = path.relative_to(self.root).as_posix()
            if any(part.startswith(".") for part in Path(relative).parts):
                continue
            entry = self.cursor.files.get(relative)
            if entry and entry.get("done"):
                continue
            try:
                stat = path.stat()
            except OSError:
                continue
            if entry and (entry["size"], entry["mtime_ns"]) != (stat.st_size, stat.st_mtime_ns):
                if relative not in self._warned:
                    self._warned.add(relative)
                    report_on_stderr(f"{relative} changed after it was begun at row {entry['next_row']}; left as is")
                continue
            if now - stat.st_mtime < self.settle_s or not self._footer_reads(path):
                continue
            found.append(relative)
        return sorted(found, key=lambda rel: (not self.cursor.files.get(rel, {}).get("next_row"), shard_order(rel)))

    @staticmethod
    def _footer_reads(path: Path) -> bool:
        from webfaq_stream.adapters.owi import row_count

        try:
            row_count(path)
        except CrawlFileError:
            return False
        return True

    # --- one shard, chunk by chunk -----------------------------------------------------------
    def _entry(self, relative: str) -> dict[str, Any]:
        from webfaq_stream.adapters.owi import row_count

        entry = self.cursor.files.get(relative)
        if entry is None:
            path = self.root / relative
            stat = path.stat()
            entry = self.cursor.files[relative] = {
                "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "rows": row_count(path), "next_row": 0,
                "done": False, "sent": 0, "skipped": 0, "unreadable": 0}
        return entry

    def _publish_shard(self, publisher: Any, relative: str) -> None:
        entry = self._entry(relative)
        stats = ShardStats()
        rows = shard_messages(self.root / relative, stats, name=relative, start_row=entry["next_row"],
                              report=report_on_stderr)
        started = entry["next_row"]
        while entry["next_row"] < entry["rows"] and not self.stop.is_set():
            start = entry["next_row"]
            end = min(start + self.chunk_rows, entry["rows"])
            self._begin_chunk(relative, start, end)
            sent = self._send(publisher, islice(rows, end - start), skip=set())
            self._end_chunk(publisher, entry, end, sent, stats)
        if entry["next_row"] >= entry["rows"] and not entry["done"]:
            entry["done"] = True
            self.cursor.save()
        log.info("shard %s: rows %d-%d published (%s)", relative, started, entry["next_row"],
                 {k: entry[k] for k in ("sent", "skipped", "unreadable")})

    def _begin_chunk(self, relative: str, start: int, end: int) -> None:
        since = dict(self._floor)
        for partition, offset in self.cursor.last_offsets.items():
            since[partition] = max(since.get(partition, 0), offset + 1)
        self.cursor.data["in_flight"] = {"file": relative, "start": start, "end": end,
                                         "since": {str(p): o for p, o in sorted(since.items())}}
        self.cursor.save()

    def _send(self, publisher: Any, chunk: Iterator[tuple[int, Any]], skip: set[int]) -> int:
        follow_id = (FOLLOW_ID_HEADER, self.cursor.data["id"].encode("ascii"))
        sent = 0
        for row, message in chunk:
            if message is None or row in skip:
                continue
            publisher.send(message.value, message.key, [*message.headers, follow_id])
            sent += 1
        return sent

    def _end_chunk(self, publisher: Any, entry: dict[str, Any], end: int, sent: int, stats: ShardStats) -> None:
        self.cursor.acknowledged(publisher.flush())
        entry["next_row"] = end
        entry["sent"] += sent
        entry["skipped"] += sum(stats.skipped.values())
        entry["unreadable"] += len(stats.unreadable)
        stats.skipped.clear()
        stats.unreadable.clear()
        self.cursor.data["in_flight"] = None
        self.cursor.save()

    # --- recovery of a chunk in flight --------------------------------------------------------
    def delivered_rows(self, in_flight: dict[str, Any]) -> set[int]:
        """Rows of the chunk in flight already on the topic (read back from its offsets)."""
        from webfaq_stream.adapters.kafka.inspect import end_offsets, read_since

        known = {int(p): int(o) for p, o in in_flight["since"].items()}
        since = {partition: known.get(partition, 0) for partition in end_offsets(self.options, self.settings.topic)}
        follow_id = self.cursor.data["id"].encode("ascii")
        file_name = in_flight["file"].encode("utf-8")
        found = set()
        for message in read_since(self.options, self.settings.topic, since, idle_s=self.readback_idle_s,
                                  until_ms=int(time.time() * 1000)):
            headers = message.headers
            if headers.get(FOLLOW_ID_HEADER) == follow_id and headers.get("owi-file") == file_name:
                row = int(headers.get("owi-row", b"-1"))
                if in_flight["start"] <= row < in_flight["end"]:
                    found.add(row)
        return found

    def _recover(self, publisher: Any) -> None:
        in_flight = self.cursor.data["in_flight"]
        relative = in_flight["file"]
        entry = self.cursor.files[relative]
        delivered = self.delivered_rows(in_flight)
        stats = ShardStats()
        chunk = islice(shard_messages(self.root / relative, stats, name=relative, start_row=in_flight["start"],
                                      report=report_on_stderr), in_flight["end"] - in_flight["start"])
        resent = self._send(publisher, chunk, skip=delivered)
        log.info("shard %s: chunk %d-%d was in flight: %d rows already on the topic, %d sent now", relative,
                 in_flight["start"], in_flight["end"], len(delivered), resent)
        self._end_chunk(publisher, entry, in_flight["end"], resent + len(delivered), stats)
