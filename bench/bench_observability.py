"""Overhead of observability per batch: Metrics.observe_batch, a /metrics scrape, a JSON log line.

Prints medians of several runs (microseconds/milliseconds). A realistic batch: 64 records,
12 drop reasons, 20 languages; the registry holds 176 languages and 30 drop reasons so the scrape
renders a full-size page.
Run: .venv/bin/python bench/bench_observability.py
"""

from __future__ import annotations

import io
import logging
import statistics
import time
import urllib.request

from webfaq_stream.worker.health import HealthState
from webfaq_stream.worker.logs import configure_logging
from webfaq_stream.worker.metrics import BatchStats, Metrics
from webfaq_stream.worker.web import serve_http

RUNS = 7


def median_of(function, repeat: int) -> float:
    """Median over RUNS of the mean seconds per call over ``repeat`` calls."""
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        for _ in range(repeat):
            function()
        samples.append((time.perf_counter() - started) / repeat)
    return statistics.median(samples)


def main() -> None:
    metrics = Metrics()
    warm = BatchStats(records=1, drops={f"reason_{i}": 1 for i in range(30)},
                      languages={f"l{i:02d}": 1 for i in range(176)}, seconds=0.1)
    metrics.observe_batch(warm)
    batch = BatchStats(records=64, pages_with_faq=20, pairs_kept=150, aligned_pairs=12,
                       drops={f"reason_{i}": 3 for i in range(12)},
                       languages={f"l{i:02d}": 7 for i in range(20)}, dead_letters={"invalid_warc": 1},
                       seconds=0.8)
    observe = median_of(lambda: metrics.observe_batch(batch), 2000)
    render = median_of(metrics.render, 200)
    with serve_http(0, metrics, HealthState(), host="127.0.0.1") as server:
        scrape = median_of(lambda: urllib.request.urlopen(server.url + "/metrics").read(), 100)
        health = median_of(lambda: urllib.request.urlopen(server.url + "/health/live").read(), 100)
    handler = configure_logging("INFO", "json", secrets=["a-secret-value"], stream=io.StringIO())
    log = logging.getLogger("bench")
    line = median_of(lambda: log.info("batch stored", extra={"records": 64, "origin": "https://x.example"}),
                     5000)
    logging.getLogger().removeHandler(handler)
    size = len(metrics.render())
    print(f"observe_batch (64 records, 20 languages, 12 reasons): {observe * 1e6:8.1f} us")
    print(f"render /metrics ({size} bytes):                  {render * 1e3:8.2f} ms")
    print(f"GET /metrics over HTTP:                             {scrape * 1e3:8.2f} ms")
    print(f"GET /health/live over HTTP:                         {health * 1e3:8.2f} ms")
    print(f"one JSON log line (with secret masking):            {line * 1e6:8.1f} us")


if __name__ == "__main__":
    main()
