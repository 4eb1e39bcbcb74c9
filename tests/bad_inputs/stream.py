"""The good record stream of the fault tests and the undisturbed run they are compared with.

- :func:`good_stream` builds a deterministic stream of about two thousand crawl records: the real
  fixture pages (WCXB, CC-BY-4.0) crawled twice, generated four-language FAQ sites (JSON-LD and
  microdata, translated question by question so alignment has work to do), half of them re-crawled
  a day later (dedup, ``last_seen``), pages without FAQs, HTTP 404s and a few undecodable records.
- :func:`reference_run` processes the same records in-process with the worker's own
  :class:`BatchProcessor` on a fresh qdrant-edge store (no broker, no faults) and snapshots it.
- :func:`snapshot` reads a store (every pair with its payload and vector, the record counts) and
  writes a release; :class:`Snapshot` compares two snapshots and reports lost and doubled pairs.
Floats (vectors, similarities) are compared within ``TOLERANCE``: the same text embedded in a
batch of another composition differs in the last bits (about 1e-7).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from webfaq_stream.adapters.crawl_files import JSON_HEADERS, WARC_HEADERS, Page, warc_response_bytes
from webfaq_stream.domain.ids import origin_of
from webfaq_stream.domain.model import SourceRef

CITIES = ["Aarhus", "Bremen", "Cádiz", "Dijon", "Essen", "Faro", "Gent", "Haarlem", "Izmir", "Jena",
          "Kassel", "Lyon", "Malaga", "Nantes", "Oslo", "Porto", "Quimper", "Rouen", "Sevilla", "Trier"]
FIRST_CRAWL = "2026-11-20T12:00:00Z"
RECRAWL = "2026-11-21T12:00:00Z"


@dataclass(frozen=True)
class StreamRecord:
    """One message of the stream: value, key and headers as the publisher sends them."""

    value: bytes
    key: bytes | None
    headers: list[tuple[str, bytes]]


def _warc(page: Page) -> StreamRecord:
    return StreamRecord(warc_response_bytes(page), origin_of(page.url).encode(), list(WARC_HEADERS))


def _site_pages(sample: Any, index: int, pairs_per_page: int, about_pages: int) -> list[Page]:
    """One generated site: the bike FAQ in four languages (its first ``pairs_per_page`` pairs),
    made unique to this site, and ``about_pages`` pages without FAQ."""
    city = CITIES[index % len(CITIES)]
    name = f"Velo {city} {index}"
    site = f"https://velo-{index:03d}.example"
    pages = []
    for lang, faq in sample.BIKE_FAQ.items():
        pairs = [(f"{question} ({name})", f"{answer} {name}.") for question, answer in faq["pairs"][:pairs_per_page]]
        render = sample.jsonld_faq_page if index % 3 else sample.microdata_faq_page
        pages.append(Page(f"{site}/{lang}/faq", render(lang, f"{name} - {faq['title']}", pairs), FIRST_CRAWL))
    for about in range(about_pages):
        pages.append(Page(f"{site}/en/about-{about}", (
            f"<!DOCTYPE html><html lang='en'><head><title>{name}</title></head><body><p>{name} rents "
            f"bikes in {city} since {1990 + index % 30}. Page {about}.</p></body></html>").encode(), FIRST_CRAWL))
    if index % 10 == 0:
        pages.append(Page(f"{site}/en/old-faq", b"<html><body>Not found</body></html>", FIRST_CRAWL,
                          status="404 Not Found"))
    return pages


def good_stream(sample_crawl: Any, sites: int = 150, pairs_per_page: int = 3, about_pages: int = 6,
                seed: int = 8) -> list[StreamRecord]:
    """The stream described in the module docstring, in a shuffled but fixed order (about 1,900
    records with the defaults; embedding is what costs, so most generated pages are cheap)."""
    sample = sample_crawl.module
    pages = list(sample_crawl.pages)
    pages += [page._replace(warc_date=RECRAWL) for page in sample_crawl.pages]
    for index in range(sites):
        site = _site_pages(sample, index, pairs_per_page, about_pages)
        pages += site
        if index % 2:
            pages += [page._replace(warc_date=RECRAWL) for page in site if page.url.endswith("/faq")]
    records = [_warc(page) for page in pages]
    for index in range(20):  # undecodable records a real crawl also has
        records.append(StreamRecord(b'{"url": "https://broken-%d.example/", "html": ' % index,
                                    f"https://broken-{index}.example".encode(), list(JSON_HEADERS)))
    random.Random(seed).shuffle(records)
    return records


TOLERANCE = 1e-5


def close(a: Any, b: Any, tolerance: float = TOLERANCE) -> bool:
    """Equal, with floats (also inside lists, tuples and dicts) equal within ``tolerance``."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= tolerance
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[key], b[key], tolerance) for key in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(close(x, y, tolerance) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@dataclass
class Snapshot:
    """A store's pairs (id -> payload and vector), point count, record counts and
    the release written from it (rows of ``data`` and ``bitexts``)."""

    pairs: dict[str, Any]
    points: int
    stats: dict[str, Any]
    data_rows: list[tuple[Any, ...]] = field(default_factory=list)
    bitext_rows: list[tuple[Any, ...]] = field(default_factory=list)

    def lost_and_doubled(self, reference: Snapshot) -> tuple[int, int]:
        """Pairs of ``reference`` missing here, and pairs here more than once (points or release rows)."""
        lost = len(set(reference.pairs) - set(self.pairs))
        release_ids = Counter(row[0] for row in self.data_rows)
        doubled = (self.points - len(self.pairs)) + sum(n - 1 for n in release_ids.values() if n > 1)
        return lost, doubled


def without_provenance(payload: dict[str, Any]) -> dict[str, Any]:
    """A pair's payload without where its last change was read (run-specific: topic, offsets, batches)."""
    from webfaq_stream.domain.model import StoredPair

    return {key: value for key, value in payload.items() if key not in StoredPair.PROVENANCE_FIELDS}


def snapshot(settings: Any, release: bool = True) -> Snapshot:
    """Read the (closed) store of ``settings`` and, if ``release``, write and read a release of it."""
    from webfaq_stream.release.build import write_release
    from webfaq_stream.store.opener import open_store
    from webfaq_stream.store.stats import STATS_KEY

    store = open_store(settings)
    try:
        pairs = {pair.id: {**without_provenance(pair.payload()), "vector": list(pair.vector or [])}
                 for pair in store.scroll(with_vectors=True)}
        points = store.count()
        stats = dict(store.get_meta(STATS_KEY) or {})
        result = write_release(store, settings, progress=False) if release else None
    finally:
        store.close()
    shot = Snapshot(pairs, points, stats)
    if result is not None:
        db = duckdb.connect(str(result.path / "webfaq.duckdb"), read_only=True)
        try:
            shot.data_rows = db.execute(
                "SELECT id, origin, url, question, answer, title, description, language_score, "
                "near_duplicate_similarity, first_seen, last_seen FROM data ORDER BY id").fetchall()
            shot.bitext_rows = db.execute(
                "SELECT language1, language2, id1, id2, origin, similarity, url1, url2 FROM bitexts "
                "ORDER BY language1, language2, id1, id2").fetchall()
        finally:
            db.close()
    return shot


def reference_run(records: Sequence[StreamRecord], settings: Any, batch_size: int = 64) -> Snapshot:
    """Process ``records`` undisturbed, in-process, into ``settings.store_dir``; its snapshot."""
    from webfaq_stream.adapters.qdrant.opener import open_pair_store
    from webfaq_stream.domain.langid import LanguageTagger
    from webfaq_stream.domain.pipeline import Pipeline, RawMessage
    from webfaq_stream.embed.models import configured_models
    from webfaq_stream.store.gate import ReleaseGate
    from webfaq_stream.testing import MemoryDeadLetters
    from webfaq_stream.worker.batch import BatchProcessor

    embedder = configured_models(settings)
    store = open_pair_store(url=None, api_key=None, path=settings.store_dir, collection=settings.collection)
    store.open(embedder.dim, embedder.wide_dim)
    try:
        processor = BatchProcessor(pipeline=Pipeline(LanguageTagger()), embedder=embedder,
                                   store=ReleaseGate(store), dead_letters=MemoryDeadLetters())
        messages = [RawMessage(record.value, record.key, tuple(record.headers), SourceRef("reference", 0, offset))
                    for offset, record in enumerate(records)]
        for start in range(0, len(messages), batch_size):
            processor.process(messages[start:start + batch_size])
    finally:
        store.close()
    return snapshot(settings)


def assert_same(run: Snapshot, reference: Snapshot, records: int) -> tuple[int, int]:
    """Assert ``run`` equals ``reference`` (pairs, payloads, vectors, release rows, record count);
    returns (lost, doubled) for the report."""
    lost, doubled = run.lost_and_doubled(reference)
    assert (lost, doubled) == (0, 0), f"{lost} pairs lost, {doubled} doubled"
    assert set(run.pairs) == set(reference.pairs)
    differing = [pair_id for pair_id in reference.pairs if not close(run.pairs[pair_id], reference.pairs[pair_id])]
    assert not differing, (f"{len(differing)} pairs differ, e.g. {run.pairs[differing[0]]} "
                           f"!= {reference.pairs[differing[0]]}")
    assert run.points == reference.points == len(reference.pairs)
    assert close(run.data_rows, reference.data_rows)
    assert close(run.bitext_rows, reference.bitext_rows)
    assert run.stats.get("records") == reference.stats.get("records") == records
    assert run.stats.get("pairs_kept") == reference.stats.get("pairs_kept")
    assert run.stats.get("dead_letters") == reference.stats.get("dead_letters")
    return lost, doubled


def publish(options: dict[str, Any], topic: str, records: Sequence[StreamRecord]) -> dict[int, int]:
    """Publish ``records`` in order; the last offset per partition."""
    from webfaq_stream.adapters.kafka.client import Publisher

    with Publisher(options, topic) as publisher:
        for record in records:
            publisher.send(record.value, record.key, record.headers)
        return publisher.flush()


def worker_http(log_path: Path, path: str) -> tuple[int, str]:
    """``(status, body)`` of GET ``path`` on the worker whose log names its metrics port."""
    import re
    import urllib.error
    import urllib.request

    match = re.search(r"metrics on port (\d+)", log_path.read_text(errors="replace"))
    assert match, log_path.read_text(errors="replace")[-2000:]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{match.group(1)}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for(condition: Any, timeout_s: float, what: str, poll_s: float = 0.1) -> None:
    """Poll ``condition()`` until true; AssertionError naming ``what`` after ``timeout_s``."""
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f}s waiting for {what}"
        time.sleep(poll_s)


_REFERENCES: dict[tuple[Any, ...], tuple[list[StreamRecord], Snapshot]] = {}


def shared_reference(sample_crawl: Any, **stream_options: Any) -> tuple[list[StreamRecord], Snapshot]:
    """:func:`good_stream` ``(**stream_options)`` and its :func:`reference_run`, computed once per test
    session (fault tests that use the same stream share the undisturbed run)."""
    import atexit
    import inspect
    import shutil
    import tempfile

    from webfaq_stream.settings import load_settings

    defaults = {name: parameter.default for name, parameter in inspect.signature(good_stream).parameters.items()
                if parameter.default is not inspect.Parameter.empty}
    key = tuple(sorted({**defaults, **stream_options}.items()))
    if key not in _REFERENCES:
        records = good_stream(sample_crawl, **stream_options)
        root = Path(tempfile.mkdtemp(prefix="webfaq-fault-reference-"))
        atexit.register(shutil.rmtree, root, True)
        _REFERENCES[key] = records, reference_run(records, load_settings(
            store_dir=root / "store", release_dir=root / "releases"))
    return _REFERENCES[key]


def batches_logged(log_path: Path) -> int:
    """How many batches the worker whose log this is has stored so far."""
    return log_path.read_text(errors="replace").count(": batch ")


def publish_stream(bootstrap: str, tmp_path: Path, records: Sequence[StreamRecord],
                   partitions: int) -> tuple[Any, dict[str, Any], dict[int, int]]:
    """Settings for a worker under ``tmp_path``, the topics created, ``records`` published.

    Returns ``(settings, kafka options, last offset per partition)``.
    """
    from webfaq_stream.adapters.kafka.client import ensure_topics
    from webfaq_stream.settings import load_settings

    settings = load_settings(kafka_bootstrap=bootstrap, store_dir=tmp_path / "store",
                             release_dir=tmp_path / "releases", partitions=partitions)
    options = {"bootstrap_servers": bootstrap}
    ensure_topics(options, {settings.topic: partitions, settings.dead_letter_topic: 1})
    return settings, options, publish(options, settings.topic, records)


def stored_ids_and_stats(settings: Any) -> tuple[set[str], Any]:
    """The pair ids in the worker's store and its cumulative ``IngestStats`` (store opened, closed)."""
    from webfaq_stream.store.opener import open_store
    from webfaq_stream.store.stats import STATS_KEY, IngestStats

    store = open_store(settings)
    try:
        return {pair.id for pair in store.scroll()}, IngestStats.from_meta(store.get_meta(STATS_KEY))
    finally:
        store.close()
