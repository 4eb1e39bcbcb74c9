"""Crash at any point: a worker SIGKILLed at random moments, again and again, loses and doubles nothing.

About 1,900 real and generated records (``bad_inputs.stream.good_stream``) go onto the embedded
broker; a worker is started, SIGKILLed at a random moment (during start-up, or a random time
after its first batch: mid-batch, mid-write, mid-commit), restarted, at least 20 times, then left
to drain the topic. Its store and a release written from it must equal those of an undisturbed
in-process run over the same records: every pair, payload (first/last seen, URL, near-duplicate
similarity, alignment) and vector; the release's ``data`` and ``bitexts`` rows; every record
counted exactly once. ``make test-long`` runs the slow variant (more records, 60 kills).
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from bad_inputs import report
from bad_inputs.stream import assert_same, publish_stream, shared_reference, snapshot

from webfaq_stream.adapters.kafka.client import committed_offsets, is_drained, wait_drained

#: Faster group joins than the suite's 6 s session: the kill loop restarts a worker many times.
FAST_JOIN_ENV = {"WEBFAQ_KAFKA_SESSION_TIMEOUT_S": "3", "WEBFAQ_KAFKA_HEARTBEAT_INTERVAL_S": "1",
                 "WEBFAQ_BATCH_SIZE": "24"}


def _first_batch_logged(log_path: Path, process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is not None or ": batch " in log_path.read_text(errors="replace")


def run_kill_loop(*, broker, sample_crawl, worker_processes, tmp_path: Path, kills: int, sites: int,
                  seed: int, test_name: str) -> None:
    """Publish the stream, kill and restart the worker ``kills`` times, drain, compare, report."""
    records, reference = shared_reference(sample_crawl, sites=sites)
    settings, options, last_offsets = publish_stream(broker.bootstrap, tmp_path, records, partitions=3)
    env = {"WEBFAQ_KAFKA_BOOTSTRAP": broker.bootstrap, "WEBFAQ_STORE_DIR": str(settings.store_dir),
           "WEBFAQ_RELEASE_DIR": str(settings.release_dir), **FAST_JOIN_ENV}

    rng = random.Random(seed)
    killed = mid_stream = 0
    while killed < kills:
        worker = worker_processes(**env)
        log_path = Path(worker.log_path)
        if rng.random() < 0.3:  # during start-up: store open, model load, group join
            time.sleep(rng.uniform(0.2, 4.0))
        else:  # a random moment after the first batch: mid-batch, mid-write, mid-commit
            deadline = time.monotonic() + 60
            while not _first_batch_logged(log_path, worker) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 1.5))
        assert worker.poll() is None, log_path.read_text()[-3000:]
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        killed += 1
        committed = committed_offsets(options, settings.consumer_group, settings.topic)
        mid_stream += not is_drained(committed, last_offsets)

    final = worker_processes(**env)
    wait_drained(options, settings.consumer_group, settings.topic, last_offsets, timeout_s=300,
                 alive=lambda: final.poll() is None)
    final.send_signal(signal.SIGTERM)
    assert final.wait(60) == 0, Path(final.log_path).read_text()[-3000:]

    lost, doubled = assert_same(snapshot(settings), reference, records=len(records))
    report.record(test_name, kills_survived=killed, kills_mid_stream=mid_stream,
                  records=len(records), records_lost=lost, records_doubled=doubled)
    assert mid_stream >= kills // 2, f"only {mid_stream} of {killed} kills landed before the topic was drained"


def test_twenty_sigkills_lose_and_double_nothing(broker, sample_crawl, worker_processes, worker_env,
                                                  tmp_path: Path) -> None:
    run_kill_loop(broker=broker, sample_crawl=sample_crawl, worker_processes=worker_processes,
                  tmp_path=tmp_path, kills=20, sites=150, seed=20, test_name="crash (20 SIGKILLs)")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_sixty_sigkills_on_a_larger_stream(broker, sample_crawl, worker_processes, worker_env,
                                           tmp_path: Path) -> None:
    run_kill_loop(broker=broker, sample_crawl=sample_crawl, worker_processes=worker_processes,
                  tmp_path=tmp_path, kills=60, sites=400, seed=60, test_name="crash long (60 SIGKILLs)")
