"""One-shot ingestion of a user's own crawl files: broker, publish, worker until drained, release.

``run_ingest(settings, paths)``:
1. starts the embedded broker unless ``settings.kafka_bootstrap`` names a cluster;
2. publishes the files (:func:`webfaq_stream.worker.publish.publish_files`), keeping the last offset
   per partition;
3. runs the worker (``webfaq-stream worker``, the same Faust code path, as a child process that
   owns the embedded store) until the group's committed offsets pass the published ones
   (``webfaq_stream.adapters.kafka.client.wait_drained``: no ListOffsets, so it is right on Tansu and on Kafka);
4. stops the worker (SIGTERM, then SIGKILL after a grace period), writes a release and returns
   the counts of this run (the difference of the store's ``worker_stats`` before and after).
Everything it started is stopped on every path out, errors included. Failures are raised as
``WebFAQError`` subclasses with the worker's log path when the worker is involved.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from webfaq_stream.errors import BrokerError, StoreMissingError, WebFAQError
from webfaq_stream.release.build import ReleaseResult, write_release
from webfaq_stream.settings import Settings
from webfaq_stream.store.opener import open_store
from webfaq_stream.store.stats import STATS_KEY, IngestStats, format_summary
from webfaq_stream.worker.publish import PublishResult, publish_files

#: Seconds a stopping worker gets before it is killed.
WORKER_STOP_TIMEOUT_S = 60.0


class IngestError(WebFAQError):
    """The one-shot ingestion failed (the worker died, the topic was not drained in time...)."""


@dataclass
class IngestResult:
    """What one ingestion did: what was published, the run's counts, the release written."""

    published: PublishResult
    run: IngestStats
    release: ReleaseResult
    worker_log: Path

    def summary(self) -> str:
        return format_summary(self.run, stored_languages=self.release.counts,
                              aligned_pairs=sum(self.release.bitext_counts.values()),
                              release_path=str(self.release.path), published=self.published.messages)


def worker_environment(settings: Settings, web_port: int = 0) -> dict[str, str]:
    """The environment of the child worker: ours, plus the settings this run decided."""
    env = dict(os.environ)
    env.update({"WEBFAQ_KAFKA_BOOTSTRAP": str(settings.kafka_bootstrap),
                "WEBFAQ_STORE_DIR": str(settings.store_dir),
                "WEBFAQ_RELEASE_DIR": str(settings.release_dir),
                "WEBFAQ_TOPIC": settings.topic,
                "WEBFAQ_CONSUMER_GROUP": settings.consumer_group,
                "WEBFAQ_EMBEDDING_MODEL": settings.embedding_model,
                "WEBFAQ_WEB_PORT": str(web_port),
                "PYTHONUNBUFFERED": "1"})
    return env


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m webfaq_stream.cli worker`` (a child process) with its output in ``log_path``."""
    with log_path.open("ab") as log_file:
        return subprocess.Popen([sys.executable, "-m", "webfaq_stream.cli", "worker"],
                                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                env=worker_environment(settings))


def stop_worker(process: subprocess.Popen[bytes], timeout_s: float = WORKER_STOP_TIMEOUT_S) -> int:
    """SIGTERM, wait ``timeout_s``, SIGKILL; returns the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)


def read_stats(settings: Settings) -> IngestStats:
    """The store's cumulative ``worker_stats`` (zero when there is no store yet)."""
    try:
        store = open_store(settings)
    except StoreMissingError:
        return IngestStats()
    try:
        return IngestStats.from_meta(store.get_meta(STATS_KEY))
    finally:
        store.close()


def release_store(settings: Settings, progress: bool) -> tuple[IngestStats, ReleaseResult]:
    """Open the store (the worker has stopped), read its counts and write a release."""
    store = open_store(settings)
    try:
        stats = IngestStats.from_meta(store.get_meta(STATS_KEY))
        return stats, write_release(store, settings, progress=progress)
    finally:
        store.close()


def run_ingest(settings: Settings, paths: list[Path], *, progress: bool = True,
               drain_timeout_s: float = 3600.0,
               on_published: Callable[[PublishResult], None] | None = None) -> IngestResult:
    """Steps 1-4 of the module docstring."""
    from webfaq_stream.adapters.kafka.broker import EmbeddedBroker

    for path in paths:
        if not Path(path).is_file():
            raise IngestError(f"no such file: {path}")
    broker = None
    if settings.kafka_bootstrap is None:
        broker = EmbeddedBroker().start()
        settings = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
    log_dir = Path(tempfile.mkdtemp(prefix="webfaq-ingest-"))
    worker_log = log_dir / "worker.log"
    try:
        before = read_stats(settings)
        published = publish_files(settings, paths, progress=progress)
        if on_published is not None:
            on_published(published)
        if published.messages == 0:
            raise IngestError(f"no crawl records in {', '.join(map(str, paths))}")
        worker = start_worker(settings, worker_log)
        try:
            _wait_for_worker(settings, published, worker, worker_log, drain_timeout_s, progress)
        finally:
            status = stop_worker(worker)
        if status not in (0, -signal.SIGTERM):
            raise IngestError(f"the worker exited with status {status}; see {worker_log}")
        after, release = release_store(settings, progress)
        return IngestResult(published, after.minus(before), release, worker_log)
    finally:
        if broker is not None:
            broker.stop()


def _wait_for_worker(settings: Settings, published: PublishResult, worker: subprocess.Popen[bytes],
                     worker_log: Path, timeout_s: float, progress: bool) -> None:
    """Block until the worker's group has committed past every published offset."""
    from tqdm import tqdm

    from webfaq_stream.adapters.kafka.client import wait_drained
    from webfaq_stream.adapters.kafka.security import kafka_client_kwargs

    total = sum(offset + 1 for offset in published.last_offsets.values())
    with tqdm(total=total, desc="worker", unit="rec", file=sys.stderr, disable=None if progress else True) as bar:
        def show(committed: dict[int, int]) -> None:
            done = sum(min(committed.get(p, 0), last + 1) for p, last in published.last_offsets.items())
            bar.update(max(0, done - bar.n))

        try:
            wait_drained(kafka_client_kwargs(settings), settings.consumer_group, settings.topic, published.last_offsets,
                         timeout_s=timeout_s, alive=lambda: worker.poll() is None, progress=show)
        except BrokerError as exc:
            tail = _tail(worker_log)
            raise IngestError(f"{exc}; worker status {worker.poll()}; log {worker_log}:\n{tail}") from None


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
