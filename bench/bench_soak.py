"""Soak: one worker for N minutes on re-crawls of the real WARCs; the store must follow the distinct pairs.

Run ``make soak`` (10 minutes) or ``.venv/bin/python bench/bench_soak.py --minutes 3`` while developing.

What runs: the embedded broker (Tansu) and the production worker (``python -m webfaq_stream.cli
worker``, packaged default model, embedded qdrant-edge store, compaction on its defaults) in child
processes. The records are every response record of the fixtures' ``crawls/`` folder (beside the repository) and
``sample/sample-crawl.warc.gz`` (plain WARC records, as ``webfaq-stream publish`` sends them),
published again and again as a crawler revisiting the sites: round ``r`` carries the simulated
fetch time ``2026-01-01 + r * --hours-per-round`` in every valid ``WARC-Date`` (two hours by
default: a simulated month in ten minutes, each pair's ``last_seen`` day moving on every twelve
rounds), and every ``--new-page-every`` rounds one new page on a new site (a FAQ of this project's
sample tables with its questions numbered: new distinct pairs). The publisher stays at most two
rounds ahead of the worker's committed offsets.

Phases: (1) the first round on a fresh store; the worker is stopped and the store's size on disk
(segments and WAL apart, allocated blocks) and the open time of a restarted worker's store
(``EdgePairStore.open`` in a fresh process, median of 5) are taken; (2) the worker restarts and
the soak runs ``--minutes``, sampling every ``--sample-s`` the worker's RSS, the store's size and
the committed records; (3) the worker is stopped, the size and the open time are taken again;
(4) for reference, a fresh store gets one round of the same distinct pages (the real records and
every new page once): the size the distinct pairs need.

Prints the first and last samples, the slopes (least squares over the samples after the first
minute), the worker's batch times and its store compaction stalls (from its log), the load average
and what else ran on the machine (the busiest other processes), and the targets; records them in
``bench/RESULTS.md`` between ``soak`` markers, one block per set of options (``--no-record``
leaves the file alone).
Targets: size at the end <= 1.2 x the size after the first round (and <= 1.2 x the reference: new
pages add distinct pairs); RSS at the end within 10% of its value after the first minute; records/s
of the last minute >= 0.9 of the first, and the worker's own batch time per record too (the
embedded broker keeps every record in memory and fetches slower as it fills: a raw consumer's
fetch rate halves after about 90,000 of these records); open time after the soak no longer than
after the first round (within noise).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
CRAWLS = REPO.parent / "shared" / "fixtures" / "crawls"
SAMPLE = REPO / "sample" / "sample-crawl.warc.gz"
RESULTS = REPO / "bench" / "RESULTS.md"
MARK_BEGIN, MARK_END = "<!-- soak:begin -->", "<!-- soak:end -->"
MARK_SECTION = "<!-- soak runs (bench/bench_soak.py writes them here) -->"
START = datetime(2026, 1, 1, tzinfo=UTC)
TOPIC, GROUP, PARTITIONS = "soak.crawl", "soak", 4
AHEAD_ROUNDS = 2
WARC_DATE = re.compile(rb"^WARC-Date: (\S+)\r$", re.MULTILINE)


# --- records ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Record:
    """One published record: key, WARC header block (its date replaced per round) and the rest."""

    key: bytes | None
    head: bytes
    rest: bytes
    dated: bool  # a valid WARC-Date, replaced by the round's time (invalid ones stay as they are)

    def at(self, when: str) -> bytes:
        if not self.dated:
            return self.head + self.rest
        return WARC_DATE.sub(b"WARC-Date: " + when.encode(), self.head, count=1) + self.rest


def load_records() -> list[Record]:
    from webfaq_stream.adapters.crawl_files import read_messages

    files = sorted(p for p in CRAWLS.iterdir() if ".warc" in p.name) + [SAMPLE]
    records = []
    for message in read_messages(files, compress=False):
        end = message.value.index(b"\r\n\r\n") + 4
        head, rest = message.value[:end], message.value[end:]
        match = WARC_DATE.search(head)
        dated = False
        if match:
            try:
                datetime.fromisoformat(match.group(1).decode())
                dated = True
            except ValueError:
                pass
        records.append(Record(message.key, head, rest, dated))
    return records


def sample_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_sample", REPO / "sample" / "make_sample.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def new_page(number: int, when: str) -> tuple[bytes, bytes]:
    """(key, value): a FAQ page on a site of its own whose questions carry ``number`` (new pairs)."""
    from webfaq_stream.adapters.crawl_files import Page, warc_response_bytes
    from webfaq_stream.domain.ids import origin_of

    sample = sample_module()
    table = (sample.BIKE_FAQ, sample.CAFE_FAQ)[number % 2]["en"]
    pairs = [(f"{question.rstrip('?')} (site {number})?", answer) for question, answer in table["pairs"]]
    url = f"https://site-{number}.soak.example/faq"
    html = sample.jsonld_faq_page("en", f"{table['title']} {number}", pairs)
    return origin_of(url).encode(), warc_response_bytes(Page(url, html, when), compress=False)


def round_time(round_: int, hours_per_round: float) -> str:
    return (START + timedelta(hours=round_ * hours_per_round)).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- measurements ------------------------------------------------------------------------------
def disk_bytes(path: Path) -> int:
    """Allocated bytes of the files under ``path`` (sparse WAL files count what they use)."""
    if not path.exists():
        return 0
    return sum(entry.stat().st_blocks * 512 for entry in path.rglob("*") if entry.is_file())


def store_sizes(store: Path) -> dict[str, int]:
    segments, wal = disk_bytes(store / "segments"), disk_bytes(store / "wal")
    return {"segments": segments, "wal": wal, "total": disk_bytes(store)}


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def open_time_s(store: Path, runs: int = 5) -> float:
    """Median seconds the store opener (``open_store``, as a restarted worker calls it, with the widths
    the store was created with) takes in a fresh process."""
    code = ("import sys, time; from pathlib import Path; from webfaq_stream.settings import Settings; "
            "from webfaq_stream.store.opener import open_store; p = Path(sys.argv[1]); t = time.perf_counter(); "
            "s = open_store(Settings(qdrant_url=None, store_dir=p.parent, collection=p.name), must_exist=True); "
            "print(time.perf_counter() - t); s.close()")
    times = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", code, str(store)], cwd=REPO, check=True,
                              capture_output=True, text=True)
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def machine_snapshot() -> dict[str, Any]:
    """Load average and the busiest processes not started by this bench (what shared the machine)."""
    mine = {os.getpid()}
    busy = subprocess.run(["ps", "-eo", "pid,ppid,pcpu,rss,comm", "--sort=-pcpu"], capture_output=True,
                          text=True, check=False).stdout.splitlines()[1:]
    others = []
    for line in busy:
        pid, ppid, cpu, _rss, command = line.split(None, 4)
        if int(pid) in mine or int(ppid) in mine or float(cpu) < 5:
            continue
        others.append(f"{command} {cpu}%")
    return {"load": os.getloadavg(), "others": others[:6]}


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] / 60 for p in points], [p[1] for p in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / var if var else 0.0


# --- the worker ----------------------------------------------------------------------------------
@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def batches(self) -> list[dict[str, Any]]:
        """The worker's stored batches from its JSON log: seconds and store compaction seconds."""
        pattern = re.compile(r"^batch \d+: (\d+) records .* (\d+) points written, .*, ([\d.]+)s "
                             r"\(store compaction ([\d.]+)s\)$")
        out = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            match = pattern.match(str(entry.get("message", "")))
            if match:
                moment = datetime.fromisoformat(str(entry["time"])).timestamp()
                out.append({"time": moment, "records": int(match.group(1)), "written": int(match.group(2)),
                            "seconds": float(match.group(3)), "compaction": float(match.group(4))})
        return out


def start_worker(work: Path, name: str, bootstrap: str, topic: str, group: str, store: Path) -> Worker:
    env = {**os.environ, "WEBFAQ_KAFKA_BOOTSTRAP": bootstrap, "WEBFAQ_TOPIC": topic,
           "WEBFAQ_DEAD_LETTER_TOPIC": f"{topic}.dlq", "WEBFAQ_CONSUMER_GROUP": group,
           "WEBFAQ_STORE_DIR": str(store.parent), "WEBFAQ_COLLECTION": store.name,
           "WEBFAQ_RELEASE_DIR": str(work / "releases"), "WEBFAQ_RELEASE_SCHEDULE": "0 3 1 1 *",
           "WEBFAQ_PARTITIONS": str(PARTITIONS), "WEBFAQ_WEB_PORT": "0",
           "WEBFAQ_LOG_FORMAT": "json", "WEBFAQ_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1",
           "WEBFAQ_KAFKA_SESSION_TIMEOUT_S": "6", "WEBFAQ_KAFKA_HEARTBEAT_INTERVAL_S": "2"}
    log = work / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "webfaq_stream.cli", "worker"], cwd=REPO, env=env,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    return Worker(process, log)


# --- publishing -----------------------------------------------------------------------------------
@dataclass
class Feed:
    """Publishes rounds, staying at most AHEAD_ROUNDS ahead of the committed offsets."""

    bootstrap: str
    topic: str
    records: list[Record]
    hours_per_round: float
    new_page_every: int
    published: int = 0
    rounds: int = 0
    new_pages: int = 0
    committed: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def publish_round(self, publisher: Any, round_: int) -> None:
        from webfaq_stream.adapters.crawl_files import WARC_HEADERS

        when = round_time(round_, self.hours_per_round)
        for record in self.records:
            publisher.send(record.at(when), record.key, list(WARC_HEADERS))
        self.published += len(self.records)
        if round_ > 0 and self.new_page_every and round_ % self.new_page_every == 0:
            key, value = new_page(self.new_pages, when)
            publisher.send(value, key, list(WARC_HEADERS))
            self.published += 1
            self.new_pages += 1
        publisher.flush()
        self.rounds = round_ + 1

    def committed_total(self) -> int:
        from webfaq_stream.adapters.kafka.client import committed_offsets

        self.committed = sum(committed_offsets({"bootstrap_servers": self.bootstrap}, GROUP, self.topic).values())
        return self.committed

    def run(self, first_round: int) -> None:
        from webfaq_stream.adapters.kafka.client import Publisher

        round_ = first_round
        with Publisher({"bootstrap_servers": self.bootstrap}, self.topic) as publisher:
            while not self.stop.is_set():
                if self.published - self.committed_total() < AHEAD_ROUNDS * len(self.records):
                    self.publish_round(publisher, round_)
                    round_ += 1
                else:
                    self.stop.wait(0.5)


def wait_committed(feed: Feed, total: int, worker: Worker, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while feed.committed_total() < total:
        if worker.process.poll() is not None or time.monotonic() > deadline:
            tail = worker.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"worker committed {feed.committed} of {total} records:\n{tail}")
        time.sleep(0.5)


# --- the soak --------------------------------------------------------------------------------------
def soak(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from webfaq_stream.adapters.crawl_files import WARC_HEADERS
    from webfaq_stream.adapters.kafka.broker import EmbeddedBroker
    from webfaq_stream.adapters.kafka.client import Publisher, ensure_topics
    records = load_records()
    store = work / "stores" / "soak"
    figures: dict[str, Any] = {"records_per_round": len(records), "machine_before": machine_snapshot()}
    with EmbeddedBroker(log_path=work / "broker.log") as broker:
        options = {"bootstrap_servers": broker.bootstrap}
        ensure_topics(options, {TOPIC: PARTITIONS, f"{TOPIC}.dlq": 1, "soak.reference": PARTITIONS,
                                "soak.reference.dlq": 1})
        feed = Feed(broker.bootstrap, TOPIC, records, args.hours_per_round, args.new_page_every)

        # (1) the first round on a fresh store
        worker = start_worker(work, "worker-first", broker.bootstrap, TOPIC, GROUP, store)
        try:
            with Publisher(options, TOPIC) as publisher:
                feed.publish_round(publisher, 0)
            wait_committed(feed, feed.published, worker)
        finally:
            worker.stop()
        figures["first_round"] = store_sizes(store)
        figures["open_first_s"] = open_time_s(store)
        print(f"first round: {len(records)} records; store {figures['first_round']}; "
              f"open {figures['open_first_s']:.3f} s", file=sys.stderr)

        # (2) the soak
        worker = start_worker(work, "worker", broker.bootstrap, TOPIC, GROUP, store)
        samples: list[dict[str, Any]] = []
        publisher_thread = threading.Thread(target=feed.run, args=(1,), daemon=True)
        try:
            publisher_thread.start()
            committed_at_start = feed.committed
            started = time.monotonic()
            while (elapsed := time.monotonic() - started) < args.minutes * 60:
                if worker.process.poll() is not None:
                    raise RuntimeError(f"the worker exited ({worker.process.returncode}):\n"
                                       f"{worker.log.read_text(errors='replace')[-3000:]}")
                sizes = store_sizes(store)
                samples.append({"t": elapsed, "rss_kb": rss_kb(worker.process.pid),
                                "broker_rss_kb": rss_kb(broker.pid or 0), "committed": feed.committed - committed_at_start,
                                "rounds": feed.rounds, **sizes})
                time.sleep(args.sample_s)
            feed.stop.set()
            publisher_thread.join(30)
            wait_committed(feed, feed.published, worker)  # what was published is in the store
        finally:
            feed.stop.set()
            publisher_thread.join(30)
            figures["worker_exit"] = worker.stop()
        figures["machine_after"] = machine_snapshot()
        figures["samples"] = samples
        figures["batches"] = worker.batches()
        figures["end"] = store_sizes(store)
        figures["open_end_s"] = open_time_s(store)
        figures["rounds"], figures["new_pages"] = feed.rounds, feed.new_pages

        # (4) reference: the same distinct pages once, on a fresh store
        reference = work / "stores" / "reference"
        worker = start_worker(work, "worker-reference", broker.bootstrap, "soak.reference", GROUP, reference)
        ref_feed = Feed(broker.bootstrap, "soak.reference", records, args.hours_per_round, 0)
        try:
            with Publisher(options, "soak.reference") as publisher:
                ref_feed.publish_round(publisher, 0)
                when = round_time(0, args.hours_per_round)
                for number in range(feed.new_pages):
                    key, value = new_page(number, when)
                    publisher.send(value, key, list(WARC_HEADERS))
                publisher.flush()
                ref_feed.published += feed.new_pages
            wait_committed(ref_feed, ref_feed.published, worker)
        finally:
            worker.stop()
        figures["reference"] = store_sizes(reference)
        figures["distinct_pairs"] = count_pairs(reference)
        figures["soak_pairs"] = count_pairs(store)
    return figures


def embedding_model() -> str:
    """The model the soak's worker runs: the configured one (WEBFAQ_EMBEDDING_MODEL, else the default)."""
    from webfaq_stream.settings import Settings

    return Settings().embedding_model


def count_pairs(store: Path) -> int:
    from webfaq_stream.settings import Settings
    from webfaq_stream.store.opener import open_store

    opened = open_store(Settings(qdrant_url=None, store_dir=store.parent, collection=store.name), must_exist=True)
    try:
        return opened.count()
    finally:
        opened.close()


# --- report ------------------------------------------------------------------------------------------
def report(figures: dict[str, Any], args: argparse.Namespace) -> str:
    samples = figures["samples"]
    first, last = samples[0], samples[-1]
    after_minute = [s for s in samples if s["t"] >= 60] or samples
    at_minute = after_minute[0]

    def rate(window: list[dict[str, Any]]) -> float:
        return (window[-1]["committed"] - window[0]["committed"]) / max(1e-9, window[-1]["t"] - window[0]["t"])

    # the first minute starts with the first committed record after the restart (group join excluded)
    moving = [s for s in samples if s["committed"] > 0] or samples
    first_minute = [s for s in moving if s["t"] <= moving[0]["t"] + 60]
    last_minute = [s for s in samples if s["t"] >= last["t"] - 60]
    rate_first, rate_last = rate(first_minute), rate(last_minute)
    slopes = {name: slope_per_minute([(s["t"], s[name]) for s in after_minute])
              for name in ("rss_kb", "segments", "wal", "total")}
    batches = figures["batches"]
    cost_first, cost_last = worker_cost_ms(batches, first=True), worker_cost_ms(batches, first=False)
    seconds = sorted(b["seconds"] for b in batches) or [0.0]
    compaction = sorted(b["compaction"] for b in batches) or [0.0]
    first_round, end, reference = figures["first_round"], figures["end"], figures["reference"]
    kb = 1024
    # the first round holds the same records only when no new page came: with new pages the store is
    # judged against a fresh store of the same pages (the first round's records and the new ones)
    growth = f"{end['total'] / first_round['total']:.2f} x"
    against_first_round = (
        target("store size at the end <= 1.2 x after the first round", end["total"] <= 1.2 * first_round["total"],
               growth) if not figures["new_pages"] else
        f"  (info)  store size at the end / after the first round: {growth} ({figures['new_pages']} new pages came after it)")
    lines = [
        (f"soak: {args.minutes:g} min, {figures['rounds']} rounds of {figures['records_per_round']} real records "
        f"({args.hours_per_round:g} simulated h per round), {figures['new_pages']} new pages, model {embedding_model()}"),
        (f"  load average before {'/'.join(f'{x:.1f}' for x in figures['machine_before']['load'])}, after "
        f"{'/'.join(f'{x:.1f}' for x in figures['machine_after']['load'])} on {os.cpu_count()} CPUs; "
        f"other busy processes: {', '.join(figures['machine_after']['others']) or 'none'}"),
        f"  pairs in the store {figures['soak_pairs']} (distinct pairs of the pages: {figures['distinct_pairs']})",
        "",
        f"{'sample':<24} {'t s':>6} {'RSS MB':>8} {'segments KB':>12} {'WAL KB':>9} {'total KB':>9} {'records':>9}",
    ]
    for label, s in (("first", first), ("after the first minute", at_minute), ("last", last)):
        lines.append(f"{label:<24} {s['t']:>6.0f} {s['rss_kb'] / kb:>8.1f} {s['segments'] / kb:>12.0f} "
                     f"{s['wal'] / kb:>9.0f} {s['total'] / kb:>9.0f} {s['committed']:>9}")
    lines += [
        (f"{'slope per minute':<24} {'':>6} {slopes['rss_kb'] / kb:>8.2f} {slopes['segments'] / kb:>12.1f} "
        f"{slopes['wal'] / kb:>9.1f} {slopes['total'] / kb:>9.1f}"),
        "",
        (f"store closed, after the first round: segments {first_round['segments'] / kb:.0f} KB, WAL "
        f"{first_round['wal'] / kb:.0f} KB, total {first_round['total'] / kb:.0f} KB"),
        (f"store closed, after the soak:        segments {end['segments'] / kb:.0f} KB, WAL "
        f"{end['wal'] / kb:.0f} KB, total {end['total'] / kb:.0f} KB"),
        (f"fresh store of the distinct pages:   segments {reference['segments'] / kb:.0f} KB, WAL "
        f"{reference['wal'] / kb:.0f} KB, total {reference['total'] / kb:.0f} KB"),
        (f"records/s: first minute {rate_first:.0f}, last minute {rate_last:.0f}; the worker's own batch time "
        f"per 1,000 records: first minute {cost_first:.0f} ms, last minute {cost_last:.0f} ms"),
        (f"open time of a restarted worker's store: after the first round {figures['open_first_s'] * 1000:.0f} ms, "
        f"after the soak {figures['open_end_s'] * 1000:.0f} ms (median of 5)"),
        (f"worker batches: {len(batches)}, median {statistics.median(seconds):.2f} s, max {seconds[-1]:.2f} s; "
        f"{sum(b['written'] for b in batches)} points written; store compaction per batch: max "
        f"{compaction[-1] * 1000:.0f} ms, {sum(c > 0 for c in compaction)} batches with a flush or optimize"),
        f"broker RSS {first['broker_rss_kb'] / kb:.0f} -> {last['broker_rss_kb'] / kb:.0f} MB (records kept in memory)",
        "",
        "targets:",
        against_first_round,
        target("store size at the end <= 1.2 x a fresh store of the same pages", end["total"] <= 1.2 * reference["total"],
               f"{end['total'] / reference['total']:.2f} x"),
        target("RSS at the end within 10% of after the first minute",
               abs(last["rss_kb"] - at_minute["rss_kb"]) <= 0.1 * at_minute["rss_kb"],
               f"{last['rss_kb'] / at_minute['rss_kb']:.3f} x"),
        target("records/s of the last minute >= 0.9 x the first", rate_last >= 0.9 * rate_first,
               f"{rate_last / max(rate_first, 1e-9):.2f} x"),
        target("the worker's batch time per record in the last minute <= 1.1 x the first",
               cost_last <= 1.1 * cost_first, f"{cost_last / max(cost_first, 1e-9):.2f} x"),
        target("open time after the soak <= after the first round (+20 ms noise)",
               figures["open_end_s"] <= figures["open_first_s"] + 0.02,
               f"{figures['open_end_s'] * 1000:.0f} vs {figures['open_first_s'] * 1000:.0f} ms"),
    ]
    return "\n".join(lines)


def worker_cost_ms(batches: list[dict[str, Any]], first: bool) -> float:
    """Milliseconds of batch work per 1,000 records in the worker's first or last minute of batches:
    its own cost, apart from how fast the broker and Faust hand it records."""
    if not batches:
        return 0.0
    edge = batches[0]["time"] + 60 if first else batches[-1]["time"] - 60
    window = [b for b in batches if (b["time"] <= edge if first else b["time"] >= edge)]
    return 1e6 * sum(b["seconds"] for b in window) / max(1, sum(b["records"] for b in window))


def target(name: str, met: bool, value: str) -> str:
    return f"  {'met    ' if met else 'MISSED '} {name}: {value}"


def record(text: str, args: argparse.Namespace) -> None:
    """Write the report into bench/RESULTS.md, replacing the last one of the same options."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                            check=False).stdout.strip()
    options = f"--minutes {args.minutes:g} --hours-per-round {args.hours_per_round:g} " \
              f"--new-page-every {args.new_page_every}"
    begin, end = f"{MARK_BEGIN[:-4]} {options} -->", f"{MARK_END[:-4]} {options} -->"
    block = f"{begin}\n## Latest soak run with `{options}` ({stamp}, commit {commit})\n\n```\n{text}\n```\n{end}"
    content = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    if begin in content and end in content:
        head, rest = content.split(begin, 1)
        content = head + block + rest.split(end, 1)[1]
    elif MARK_SECTION in content:
        content = content.replace(MARK_SECTION, MARK_SECTION + "\n\n" + block, 1)
    else:
        content = content.rstrip("\n") + f"\n\n{MARK_SECTION}\n\n" + block + "\n"
    RESULTS.write_text(content, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--hours-per-round", type=float, default=2.0, help="simulated time per round")
    parser.add_argument("--new-page-every", type=int, default=10, help="one new page every N rounds (0: none)")
    parser.add_argument("--sample-s", type=float, default=5.0)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (default: a temporary one)")
    parser.add_argument("--no-record", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        figures = soak(args, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
            figures = soak(args, Path(tmp))
    text = report(figures, args)
    print(text)
    if not args.no_record:
        record(text, args)


if __name__ == "__main__":
    main()
