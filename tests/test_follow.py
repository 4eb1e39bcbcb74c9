"""``publish --follow DIR``: OWI shards appear over time and are published once each, oldest first, by a
durable cursor; a follower SIGKILLed mid-shard resumes without skipping or repeating a row (a chunk
in flight is read back from the topic); unsettled shards wait; every pair ends up in the store once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from owi_shards import page_row, provenance_pages, write_shard

from webfaq_stream.adapters.crawl_files import Page
from webfaq_stream.adapters.kafka.client import Publisher, wait_drained
from webfaq_stream.adapters.kafka.inspect import read_topic
from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.pipeline import Pipeline, RawMessage
from webfaq_stream.settings import load_settings
from webfaq_stream.store.opener import open_store
from webfaq_stream.worker.follow import FOLLOW_ID_HEADER, Cursor, ShardFollower, shard_date, shard_order

REPO = Path(__file__).resolve().parents[1]


def shard_rows(fixture_pages: Path, day: int, count: int) -> list[dict]:
    """``count`` rows of real FAQ pages, each at its own URL (so every row is sent)."""
    pages = [page for _, page in provenance_pages(fixture_pages)
             if "faqpage" in ((page_row(page)["json-ld"] or "") + (page_row(page)["microdata"] or "")).lower()]
    return [page_row(Page(f"{page.url}{'&' if '?' in page.url else '?'}crawl={day}-{n}", page.html,
                          f"2026-11-{day:02d}T10:00:00Z"))
            for n, page in zip(range(count), (pages * (count // len(pages) + 1)))]


def day_dir(root: Path, day: int, language: str = "eng") -> Path:
    return root / "main" / "dataset-1" / "year=2026" / "month=11" / f"day={day}" / f"language={language}"


def topic_rows(settings) -> Counter:
    options = {"bootstrap_servers": settings.kafka_bootstrap}
    return Counter((m.headers["owi-file"].decode(), int(m.headers["owi-row"]))
                   for m in read_topic(options, settings.topic, idle_s=3))


def test_shards_are_ordered_by_their_date_partitions() -> None:
    assert shard_date("main/x/year=2026/month=11/day=5/language=eng/metadata_0.parquet") == date(2026, 11, 5)
    assert shard_date("2026-11-05/eng/metadata_0.parquet") == date(2026, 11, 5)
    assert shard_date("misc/metadata_0.parquet") is None
    paths = ["a/year=2026/month=11/day=10/language=eng/metadata_0.parquet",
             "a/year=2026/month=11/day=9/language=eng/metadata_10.parquet",
             "a/year=2026/month=11/day=9/language=eng/metadata_2.parquet",
             "a/year=2025/month=12/day=31/language=deu/metadata_0.parquet"]
    assert sorted(paths, key=shard_order) == [paths[3], paths[2], paths[1], paths[0]]


def test_unsettled_and_hidden_shards_wait_and_a_cursor_follows_one_directory(broker, fixture_pages: Path,
                                                                             tmp_path: Path) -> None:
    settings = load_settings(kafka_bootstrap=broker.bootstrap, follow_cursor=tmp_path / "cursor.json")
    root = tmp_path / "owi"
    ready = write_shard(day_dir(root, 1) / "metadata_0.parquet", shard_rows(fixture_pages, 1, 3))
    old = time.time() - 60
    os.utime(ready, (old, old))
    fresh = write_shard(day_dir(root, 2) / "metadata_0.parquet", shard_rows(fixture_pages, 2, 3))
    partial = day_dir(root, 3) / "metadata_0.parquet"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(fresh.read_bytes()[:-100])  # being written: no footer yet
    os.utime(partial, (old, old))
    hidden = write_shard(day_dir(root, 3) / ".metadata_1.parquet.tmp.parquet", shard_rows(fixture_pages, 3, 3))
    os.utime(hidden, (old, old))
    follower = ShardFollower(settings, root, settle_s=30)
    assert follower.ready_shards() == [ready.relative_to(root).as_posix()]
    follower.cursor.save()
    with pytest.raises(Exception, match="follows"):
        ShardFollower(settings, tmp_path)


def test_a_chunk_in_flight_is_read_back_and_only_its_missing_rows_are_sent(broker, fixture_pages: Path,
                                                                           tmp_path: Path) -> None:
    settings = load_settings(kafka_bootstrap=broker.bootstrap, follow_cursor=tmp_path / "cursor.json", partitions=3)
    root = tmp_path / "owi"
    shard = write_shard(day_dir(root, 1) / "metadata_0.parquet", shard_rows(fixture_pages, 1, 12))
    relative = shard.relative_to(root).as_posix()
    follower = ShardFollower(settings, root, chunk_rows=8, settle_s=0)
    # what a follower killed during its first chunk leaves: the chunk in flight, half of it on the topic
    entry = follower._entry(relative)
    follower._begin_chunk(relative, 0, 8)
    from webfaq_stream.worker.publish import ShardStats, shard_messages

    with Publisher(follower.options, settings.topic) as publisher:
        follow_id = (FOLLOW_ID_HEADER, follower.cursor.data["id"].encode())
        for row, message in shard_messages(shard, ShardStats(), name=relative):
            if row in (0, 2, 3, 5):
                publisher.send(message.value, message.key, [*message.headers, follow_id])
        publisher.flush()
    assert entry["next_row"] == 0 and Cursor.load(settings.follow_cursor, root.resolve(), settings.topic).data[
        "in_flight"]["end"] == 8

    restarted = ShardFollower(settings, root, chunk_rows=8, settle_s=0, readback_idle_s=2)
    totals = restarted.run(once=True)
    assert topic_rows(settings) == Counter({(relative, row): 1 for row in range(12)})
    assert totals == {"shards_done": 1, "sent": 12, "skipped": 0, "unreadable": 0}
    assert restarted.cursor.data["in_flight"] is None


def follower_process(settings, root: Path, log: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "WEBFAQ_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "WEBFAQ_TOPIC": settings.topic,
           "WEBFAQ_FOLLOW_CURSOR": str(settings.follow_cursor), "WEBFAQ_PARTITIONS": "3",
           "WEBFAQ_LOG_FORMAT": "text"}
    with log.open("ab") as handle:
        return subprocess.Popen([sys.executable, "-m", "webfaq_stream.cli", "publish", "--follow", str(root),
                                 "--chunk-rows", "4", "--settle", "0.3", "--poll", "0.2", *extra],
                                cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)


def read_cursor(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def test_sigkill_mid_shard_then_restart_publishes_every_row_once(broker, fixture_pages: Path, worker_processes,
                                                                  worker_env, tmp_path: Path) -> None:
    settings = load_settings(kafka_bootstrap=broker.bootstrap, follow_cursor=tmp_path / "state" / "cursor.json",
                             store_dir=tmp_path / "store", partitions=3)
    root = tmp_path / "owi"
    shards = {day: day_dir(root, day) / "metadata_0.parquet" for day in (1, 2, 3)}
    rows = {day: shard_rows(fixture_pages, day, 120) for day in shards}
    write_shard(shards[1], rows[1])
    log = tmp_path / "follow.log"
    first = follower_process(settings, root, log)
    relative = {day: path.relative_to(root).as_posix() for day, path in shards.items()}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:  # shard 2 appears while shard 1 is published
        entry = read_cursor(settings.follow_cursor).get("files", {}).get(relative[1], {})
        if entry.get("next_row", 0) >= 8:
            break
        time.sleep(0.005)
    write_shard(shards[2], rows[2])
    while time.monotonic() < deadline and first.poll() is None:  # kill in the middle of shard 2
        cursor = read_cursor(settings.follow_cursor)
        entry = cursor.get("files", {}).get(relative[2], {})
        if entry.get("next_row", 0) >= 40 and cursor.get("in_flight"):
            break
        time.sleep(0.002)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    at_kill = read_cursor(settings.follow_cursor)
    assert not at_kill["files"][relative[2]]["done"], log.read_text()[-3000:]
    assert at_kill["files"][relative[1]]["done"] and at_kill["in_flight"]["file"] == relative[2]

    write_shard(shards[3], rows[3])
    second = follower_process(settings, root, log, "--once")
    assert second.wait(180) == 0, log.read_text()[-3000:]
    assert f"chunk {at_kill['in_flight']['start']}-{at_kill['in_flight']['end']} was in flight" in log.read_text()
    cursor = Cursor.load(settings.follow_cursor, root.resolve(), settings.topic)
    on_topic = topic_rows(settings)
    assert on_topic == Counter({(relative[day], row): 1 for day in shards for row in range(len(rows[day]))})
    assert cursor.totals() == {"shards_done": 3, "sent": sum(map(len, rows.values())), "skipped": 0,
                               "unreadable": 0}

    # oldest first: every message of a day's shard was sent before any of the next day's
    options = {"bootstrap_servers": broker.bootstrap}
    times: dict[str, list[int]] = {}
    for message in read_topic(options, settings.topic, idle_s=3):
        times.setdefault(message.headers["owi-file"].decode(), []).append(message.timestamp_ms)
    assert max(times[relative[1]]) <= min(times[relative[2]]) and max(times[relative[2]]) <= min(times[relative[3]])

    # the worker stores every pair once
    worker = worker_processes(WEBFAQ_KAFKA_BOOTSTRAP=broker.bootstrap, WEBFAQ_STORE_DIR=str(settings.store_dir),
                              WEBFAQ_RELEASE_DIR=str(tmp_path / "releases"))
    wait_drained(options, settings.consumer_group, settings.topic, cursor.last_offsets, timeout_s=240,
                 alive=lambda: worker.poll() is None)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0
    pipeline = Pipeline(LanguageTagger())
    from webfaq_stream.adapters.owi import owi_rows

    expected = {pair.id for path in shards.values()
                for pair in pipeline.run([RawMessage(r.message.value) for r in owi_rows(path)]).pairs}
    store = open_store(settings, must_exist=True)  # the vector layout the worker created
    try:
        stored = [pair.id for pair in store.scroll()]
    finally:
        store.close()
    assert sorted(stored) == sorted(expected) and len(stored) == len(set(stored))
