"""Shared fixtures: paths to the real fixture pages and the embedded broker (always stopped)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURE_PAGES = REPO.parent / "shared" / "fixtures" / "faq-pages"

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
    from connectors.broker import EmbeddedBroker

    embedded = EmbeddedBroker(log_path=tmp_path / "broker.log")
    embedded.start()
    try:
        yield embedded
    finally:
        embedded.stop()
