"""GracefulStop: SIGTERM to a real process mid-batch loses nothing and exits in bounded time.

The child process is a minimal at-least-once consumer built on GracefulStop: it reads
"records" from a list, stores each batch (append to a file, like an idempotent upsert),
then commits the batch's offset. After SIGTERM, every committed offset must be stored, the
process must exit within the grace period, and a restart must complete the rest.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from webfaq_stream.worker.health import HealthState
from webfaq_stream.worker.shutdown import BatchAbandoned, GracefulStop

CONSUMER = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from webfaq_stream.worker.shutdown import BatchAbandoned, GracefulStop

    work, total, batch_size, per_record_s, grace_s = Path(sys.argv[1]), *map(float, sys.argv[2:6])
    store, commit = work / "store.jsonl", work / "committed"
    offset = int(commit.read_text()) if commit.exists() else 0
    stop = GracefulStop(grace_s=grace_s)
    stop.install()
    print("ready", flush=True)
    while not stop.requested and offset < total:
        batch = list(range(offset, int(min(offset + batch_size, total))))
        print("batch", batch[0], flush=True)
        try:
            for record in batch:          # the CPU-bound steps
                time.sleep(per_record_s)
                stop.checkpoint()
            with store.open("a") as out:  # the store write (idempotent: a set of ids)
                out.write(json.dumps(batch) + "\\n")
                out.flush(); os.fsync(out.fileno())
            stop.checkpoint()
            commit.write_text(str(batch[-1] + 1))  # commit only what is stored
            offset = batch[-1] + 1
        except BatchAbandoned:
            print("abandoned", batch[0], flush=True)
            break
    print("exit", offset, flush=True)
""")


def _start(work: Path, total: int, batch_size: int, per_record_s: float, grace_s: float) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", CONSUMER, str(work), str(total), str(batch_size), str(per_record_s),
         str(grace_s)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    return process


def _stored(work: Path) -> set[int]:
    path = work / "store.jsonl"
    return {r for line in path.read_text().splitlines() for r in json.loads(line)} if path.exists() else set()


def _committed(work: Path) -> int:
    path = work / "committed"
    return int(path.read_text()) if path.exists() else 0


def _sigterm_mid_batch(process: subprocess.Popen, batches_before: int) -> tuple[float, list[str]]:
    lines = []
    while sum(line.startswith("batch") for line in lines) < batches_before:
        lines.append(process.stdout.readline().strip())
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    out, _ = process.communicate(timeout=30)
    return time.monotonic() - sent, lines + out.split("\n")


@pytest.mark.parametrize(("per_record_s", "grace_s", "abandons"), [(0.02, 5.0, False), (0.5, 0.4, True)])
def test_sigterm_mid_batch_loses_nothing_and_exits_in_time(tmp_path, per_record_s, grace_s, abandons):
    total, batch_size = 40, 8
    process = _start(tmp_path, total, batch_size, per_record_s, grace_s)
    took, lines = _sigterm_mid_batch(process, batches_before=2)

    assert process.returncode == 0
    assert took < grace_s + 2.0  # bounded: grace plus process teardown
    assert any(line.startswith("abandoned") for line in lines) == abandons
    committed = _committed(tmp_path)
    assert committed % batch_size == 0 and committed < total
    assert set(range(committed)) <= _stored(tmp_path)  # nothing committed that was not stored

    restarted = _start(tmp_path, total, batch_size, 0.0, grace_s)
    restarted.communicate(timeout=30)
    assert _committed(tmp_path) == total
    assert _stored(tmp_path) == set(range(total))  # nothing lost across the stop


def test_requests_flip_health_and_a_second_one_forces_the_stop():
    now = [0.0]
    health = HealthState(clock=lambda: now[0])
    health.mark_broker_ok()
    stop = GracefulStop(grace_s=10, health=health, clock=lambda: now[0])
    seen: list[str] = []
    stop.on_request(seen.append)
    assert stop.remaining_s() == float("inf") and not stop.requested

    stop.request("SIGTERM")
    assert stop.requested and seen == ["SIGTERM"]
    assert health.report().reasons == ("shutting down",)
    now[0] = 4.0
    assert stop.remaining_s() == 6.0
    stop.checkpoint()  # still within grace

    stop.request("SIGTERM")
    assert stop.remaining_s() == 0.0
    with pytest.raises(BatchAbandoned, match="SIGTERM"):
        stop.checkpoint()
