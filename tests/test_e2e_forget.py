"""End to end: ``webfaq-stream forget`` while the worker runs (embedded broker, Faust worker child,
qdrant-edge store it owns). The next release has none of the forgotten pairs nor bitexts with them,
the partners' alignments equal a batch computation without them, the manifest lists the removal;
the tombstones survive a worker restart and re-publishing the forgotten pages adds nothing."""

from __future__ import annotations

import csv
import json
import signal
from pathlib import Path

import duckdb
import pytest

from webfaq_stream.adapters.crawl_files import Page, write_warc_file
from webfaq_stream.adapters.kafka.client import wait_drained
from webfaq_stream.adapters.kafka.security import kafka_client_kwargs
from webfaq_stream.adapters.qdrant.opener import open_pair_store
from webfaq_stream.cli.main import main
from webfaq_stream.domain.align import align_origin, near_duplicate_similarities, stack_vectors
from webfaq_stream.embed.models import configured_models
from webfaq_stream.release.layout import list_releases
from webfaq_stream.release.manifest import read_manifest
from webfaq_stream.settings import load_settings
from webfaq_stream.store.forget import read_tombstones
from webfaq_stream.store.indexer import align_items
from webfaq_stream.store.stats import STATS_KEY, IngestStats
from webfaq_stream.worker.publish import publish_files

SITES = ("indoorskydive.lu", "caladeibalcani.it", "mailchimp.com")
ORIGIN = "https://caladeibalcani.it"


def site_pages(fixture_pages: Path, seen: str) -> list[Page]:
    with (fixture_pages / "PROVENANCE.tsv").open(newline="", encoding="utf-8") as handle:
        return [Page(row["original_url"], (fixture_pages / row["file"]).read_bytes(), seen)
                for row in csv.DictReader(handle, delimiter="\t") if row["file"].startswith(SITES)]


def release_now(release_dir: Path, capsys) -> Path:
    """``webfaq-stream release`` (the running worker writes it) and the new release's path."""
    assert main(["release", "--no-progress", "--wait", "120"]) == 0
    capsys.readouterr()
    return release_dir / list_releases(release_dir)[-1]


def release_rows(release: Path) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str]]]:
    db = duckdb.connect(str(release / "webfaq.duckdb"), read_only=True)
    try:
        data = {row[0]: (row[1], row[2]) for row in db.execute("SELECT id, origin, url FROM data").fetchall()}
        bitexts = db.execute("SELECT id1, id2 FROM bitexts").fetchall()
    finally:
        db.close()
    return data, bitexts


def test_forget_while_the_worker_runs(broker, fixture_pages: Path, worker_processes, worker_env, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    env = {"WEBFAQ_KAFKA_BOOTSTRAP": broker.bootstrap, "WEBFAQ_STORE_DIR": str(tmp_path / "store"),
           "WEBFAQ_RELEASE_DIR": str(tmp_path / "releases"), "WEBFAQ_PARTITIONS": "3"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    options = kafka_client_kwargs(settings)
    crawl = tmp_path / "crawl.warc.gz"
    pages = site_pages(fixture_pages, "2026-11-20T10:00:00Z")
    write_warc_file(crawl, pages)
    published = publish_files(settings, [crawl], progress=False)
    worker = worker_processes(**env)
    wait_drained(options, settings.consumer_group, settings.topic, published.last_offsets, timeout_s=240,
                 alive=lambda: worker.poll() is None)

    before, bitexts_before = release_rows(release_now(settings.release_dir, capsys))
    german = next(page.url for page in pages if page.url.startswith("https://indoorskydive.lu/de/"))
    doomed = {pid for pid, (origin, url) in before.items() if origin == ORIGIN or url == german}
    assert {o for o, _ in before.values()} == {ORIGIN, "https://indoorskydive.lu", "https://mailchimp.com"}
    assert any(a in doomed or b in doomed for a, b in bitexts_before)

    assert main(["forget", ORIGIN, german, "--reason", "owner's request"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["added"] == [ORIGIN, german] and set(answer["ids"]) == doomed
    assert main(["forget", ORIGIN]) == 0  # idempotent
    assert json.loads(capsys.readouterr().out)["added"] == []
    assert main(["forget", "--list"]) == 0
    listed = json.loads(capsys.readouterr().out)["tombstones"]
    assert listed[ORIGIN]["reason"] == "owner's request" and listed[german]["removed"] > 0

    second = release_now(settings.release_dir, capsys)
    after, bitexts_after = release_rows(second)
    assert set(after) == set(before) - doomed
    assert not [pair for pair in bitexts_after if set(pair) & doomed]
    assert bitexts_after  # the rest of the translated site is still aligned
    forgotten = read_manifest(second)["forgotten"]
    assert set(forgotten["tombstones"]) == {ORIGIN, german}
    assert forgotten["removed"]["pairs"] == len(doomed)
    assert {i for found in forgotten["removed"]["by_language"].values() for i in found["ids"]} == doomed
    assert "Forgotten on request since the previous release: 2" in (second / "README.md").read_text()

    # the tombstones survive a restart; re-publishing the forgotten pages adds nothing
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0
    worker = worker_processes(**env)
    recrawl = tmp_path / "recrawl.warc.gz"
    write_warc_file(recrawl, [Page(p.url, p.html, "2026-11-21T10:00:00Z") for p in pages
                              if p.url.startswith(ORIGIN) or p.url == german])
    again = publish_files(settings, [recrawl], progress=False)
    wait_drained(options, settings.consumer_group, settings.topic, again.last_offsets, timeout_s=240,
                 alive=lambda: worker.poll() is None)
    third = release_now(settings.release_dir, capsys)
    assert release_rows(third)[0] == after
    assert read_manifest(third)["previous"]["added"] == 0
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0

    # the store: no forgotten pair, and every alignment and near-duplicate similarity is what a batch
    # computation over the remaining pairs gives
    models = configured_models(settings)  # the worker's: store vectors, alignment vectors where needed
    store = open_pair_store(url=None, api_key=None, path=settings.store_dir, collection=settings.collection)
    store.open(models.dim, models.wide_dim)
    try:
        stored = list(store.scroll(with_vectors=True))
        stats = IngestStats.from_meta(store.get_meta(STATS_KEY))
        tombstones = read_tombstones(store)
    finally:
        store.close()
    assert not {p.id for p in stored} & doomed and tombstones.pending() == []
    assert stats.drops["forgotten"] >= len(doomed)
    for origin in {p.origin for p in stored}:
        group = [p for p in stored if p.origin == origin]
        items = align_items(group, wide=models.wide is not None and len({p.language for p in group}) >= 2)
        assert {p.id: p.aligned for p in group} == align_origin(items, models.align_rule()), origin
        for language in {p.language for p in group}:
            members = sorted((p for p in group if p.language == language), key=lambda p: p.id)
            known = models.languages is None or language in models.languages
            assert [p.near_duplicate_similarity for p in members] == near_duplicate_similarities(
                stack_vectors([p.vector if known else p.wide_vector for p in members]))
