"""Metrics, health and logs, scraped over real HTTP from the worker's server."""

from __future__ import annotations

import io
import json
import logging
import socket
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from webfaq_stream.errors import ConfigurationError, StoreError
from webfaq_stream.worker.health import HealthState
from webfaq_stream.worker.logs import MASK, configure_logging
from webfaq_stream.worker.metrics import BatchStats, Metrics
from webfaq_stream.worker.web import serve_http


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def served():
    metrics, health = Metrics(), HealthState()
    server = serve_http(0, metrics, health, host="127.0.0.1")
    yield metrics, health, server
    server.close()


def test_metrics_scraped_over_http_grow_with_each_batch(served):
    metrics, _health, server = served
    before = _samples(_get(server.url + "/metrics")[1])
    assert before[("webfaq_records_consumed_total", ())] == 0

    metrics.observe_batch(BatchStats(records=5, pages_with_faq=3, pairs_kept=7, aligned_pairs=2,
                                     drops={"answer_has_question_mark": 2, "no_faqpage": 2},
                                     languages={"eng": 4, "deu": 3}, dead_letters={"invalid_warc": 1},
                                     seconds=0.2))
    metrics.observe_batch(BatchStats(records=2, pairs_kept=1, languages={"deu": 1}, seconds=0.1))
    metrics.set_consumer_lag("webfaq.crawl", 3, 42)
    status, body = _get(server.url + "/metrics")
    after = _samples(body)

    assert status == 200
    assert after[("webfaq_records_consumed_total", ())] == 7
    assert after[("webfaq_pages_with_faq_total", ())] == 3
    assert after[("webfaq_pairs_kept_total", ())] == 8
    assert after[("webfaq_aligned_pairs_total", ())] == 2
    assert after[("webfaq_drops_total", (("reason", "answer_has_question_mark"),))] == 2
    assert after[("webfaq_pairs_by_language_total", (("language", "deu"),))] == 4
    assert after[("webfaq_dead_letters_total", (("reason", "invalid_warc"),))] == 1
    assert after[("webfaq_batch_seconds_count", ())] == 2
    assert after[("webfaq_batch_seconds_sum", ())] == pytest.approx(0.3)
    assert after[("webfaq_consumer_lag", (("partition", "3"), ("topic", "webfaq.crawl")))] == 42
    assert after[("webfaq_batches_total", ())] == 2

    metrics.forget_partition("webfaq.crawl", 3)
    assert not any(name == "webfaq_consumer_lag" for name, _ in _samples(_get(server.url + "/metrics")[1]))


def test_health_turns_503_with_reason_when_store_fails_and_recovers(served):
    _metrics, health, server = served
    health.mark_broker_ok()
    health.mark_store_ok()
    status, body = _get(server.url + "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"

    health.mark_store_failed(StoreError("connection refused to qdrant:6333"))
    status, body = _get(server.url + "/health")
    report = json.loads(body)
    assert status == 503
    assert report["status"] == "unhealthy"
    assert report["reasons"] == ["store unreachable: StoreError: connection refused to qdrant:6333"]
    assert report["store_errors"] == 1

    health.mark_store_ok()
    assert _get(server.url + "/health")[0] == 200
    assert _get(server.url + "/health/live") == (200, b'{"status": "alive"}')
    assert _get(server.url + "/nope")[0] == 404


def test_broker_silence_and_startup_grace_make_it_unhealthy():
    clock = FakeClock()
    health = HealthState(broker_stale_after_s=30, startup_grace_s=10, clock=clock)
    assert health.report().healthy  # starting, within grace
    clock.now += 11
    assert health.report().reasons == ("no broker contact since start (11s ago)",)
    health.mark_broker_ok()
    assert health.report().healthy
    clock.now += 31
    assert health.report().reasons == ("no broker contact for 31s",)
    health.mark_broker_ok()
    health.mark_broker_failed(ConnectionRefusedError("kafka:9092"))
    assert health.report().reasons == ("broker unreachable: ConnectionRefusedError: kafka:9092",)
    health.mark_stopping()
    assert health.report().reasons[0] == "shutting down"


def test_a_failing_probe_is_a_reason_and_a_passing_one_is_not():
    health = HealthState()
    health.mark_broker_ok()
    health.add_probe("qdrant", lambda: None)
    assert health.report().healthy
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def connect() -> None:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()

    health.add_probe("kafka", connect)
    (reason,) = health.report().reasons
    assert reason.startswith("kafka: ConnectionRefusedError")


def test_busy_port_is_a_configuration_error_naming_the_variable(served):
    _, _, server = served
    with pytest.raises(ConfigurationError, match="WEBFAQ_WEB_PORT"):
        serve_http(server.port, Metrics(), HealthState(), host="127.0.0.1")


def test_json_logs_are_one_object_per_line_with_extras_and_no_secrets():
    stream = io.StringIO()
    handler = configure_logging("INFO", "json", secrets=["s3cr3t-pass"], stream=stream)
    try:
        log = logging.getLogger("webfaq_stream.test")
        log.info("batch stored", extra={"records": 64, "origin": "https://example.com"})
        log.warning("login with s3cr3t-pass failed", extra={"sasl_password": "other", "api_key": "k"})
        log.debug("not shown at INFO")
        try:
            raise StoreError("auth s3cr3t-pass refused")
        except StoreError:
            log.exception("store failed")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = stream.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    assert len(entries) == 3
    first = entries[0]
    assert {"time", "level", "logger", "message"} <= set(first)
    assert first["time"].endswith("Z") and first["level"] == "INFO"
    assert first["logger"] == "webfaq_stream.test"
    assert first["records"] == 64 and first["origin"] == "https://example.com"
    assert entries[1]["message"] == f"login with {MASK} failed"
    assert entries[1]["sasl_password"] == MASK and entries[1]["api_key"] == MASK
    assert "StoreError" in entries[2]["exception"]
    assert "s3cr3t-pass" not in stream.getvalue()


def test_configure_logging_twice_keeps_one_handler():
    root = logging.getLogger()
    first = configure_logging("INFO", "text", stream=io.StringIO())
    second = configure_logging("WARNING", "json", stream=io.StringIO())
    try:
        assert first not in root.handlers and second in root.handlers
        assert root.level == logging.WARNING
    finally:
        root.removeHandler(second)
        root.setLevel(logging.WARNING)
