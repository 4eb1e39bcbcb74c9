"""The embedded Tansu broker: starts ready for Kafka clients, stops without orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from webfaq_stream.adapters.kafka.broker import EmbeddedBroker, kafka_round_trip
from webfaq_stream.adapters.kafka.client import committed_offsets, ensure_topics, is_drained
from webfaq_stream.errors import BrokerError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_started_broker_answers_kafka_requests(broker: EmbeddedBroker) -> None:
    options = {"bootstrap_servers": broker.bootstrap}
    assert ensure_topics(options, {"t1": 3, "t2": 1}) == ["t1", "t2"]
    assert ensure_topics(options, {"t1": 3}) == []  # idempotent
    assert {"t1", "t2"} <= set(kafka_round_trip(broker.bootstrap))
    assert committed_offsets(options, "nobody", "t1") == {}


def test_stop_terminates_the_process(tmp_path: Path) -> None:
    embedded = EmbeddedBroker(log_path=tmp_path / "b.log").start()
    pid = embedded.pid
    assert pid and _alive(pid)
    embedded.stop()
    embedded.stop()  # idempotent
    assert not _alive(pid)
    with pytest.raises(BrokerError):
        kafka_round_trip(f"127.0.0.1:{embedded.port}", timeout_s=0.5)


def test_broker_dies_with_a_killed_parent(tmp_path: Path) -> None:
    script = ("import sys, time; from webfaq_stream.adapters.kafka.broker import EmbeddedBroker; "
              "b = EmbeddedBroker().start(); print(b.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              cwd=Path(__file__).resolve().parents[1], text=True)
    try:
        broker_pid = int(parent.stdout.readline())
        assert _alive(broker_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 5
        while _alive(broker_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(broker_pid)
    finally:
        parent.kill()
        parent.wait()


def test_is_drained_compares_committed_with_published() -> None:
    assert is_drained({0: 5, 1: 3}, {0: 4, 1: 2})
    assert not is_drained({0: 5, 1: 2}, {0: 4, 1: 2})
    assert not is_drained({0: 5}, {0: 4, 1: 0})
    assert is_drained({}, {})


def test_broker_command_runs_in_the_foreground() -> None:
    command = subprocess.Popen([sys.executable, "-m", "webfaq_stream.cli", "broker"],
                               stdout=subprocess.PIPE, text=True,
                               cwd=Path(__file__).resolve().parents[1])
    try:
        line = command.stdout.readline()
        bootstrap = line.strip().rsplit("=", 1)[1]
        assert kafka_round_trip(bootstrap) == []
        command.send_signal(signal.SIGTERM)
        assert command.wait(10) == 0
        with pytest.raises(BrokerError):
            kafka_round_trip(bootstrap, timeout_s=0.5)
    finally:
        command.kill()
        command.wait()
