"""Errors say what to do: transient ones are retried, permanent ones never; a bug stays a bug; a page
drop is an outcome; bisection finds exactly the items that fail."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from webfaq_stream import errors
from webfaq_stream.domain.model import PageDropped, TaggedPair
from webfaq_stream.domain.pipeline import Pipeline
from webfaq_stream.store import indexer as indexer_module
from webfaq_stream.store.indexer import IndexInputError, PairIndexer
from webfaq_stream.testing import (
    FakeEmbedder,
    FakeTagger,
    InjectedBug,
    MemoryPairStore,
    align_origin_with_bug,
    messages_from,
)
from webfaq_stream.worker.health import HealthState
from webfaq_stream.worker.isolate import isolate_failures
from webfaq_stream.worker.retry import RetryPolicy
from webfaq_stream.worker.shutdown import BatchAbandoned, GracefulStop


def test_only_outages_are_transient() -> None:
    transient = {name for name, value in vars(errors).items()
                 if isinstance(value, type) and issubclass(value, errors.WebFAQError) and value.transient}
    assert transient == {"StoreUnavailableError", "StoreLockedError", "BrokerError"}
    assert not errors.RecordTooLargeError("x").transient and not IndexInputError("x").transient
    assert not issubclass(IndexInputError, errors.StoreError)


def test_a_page_drop_is_an_outcome_not_an_error() -> None:
    assert not issubclass(PageDropped, errors.WebFAQError)
    page = b'{"url": "https://a.example/x", "warc_date": "2026-01-01T00:00:00Z", "html": "\\u0000<html>FAQPage</html>"}'
    result = Pipeline(FakeTagger()).run(messages_from([page]))
    assert result.drops == {"not_html": 1} and not result.dead_letters


def policy(health: HealthState | None = None) -> RetryPolicy:
    return RetryPolicy(GracefulStop(30.0), health=health, delay_s=0.001, max_delay_s=0.002)


def test_transient_errors_are_retried_until_they_pass() -> None:
    health = HealthState()
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise errors.StoreUnavailableError("connection refused")
        return "stored"

    assert policy(health).call(flaky, "storing") == "stored"
    assert len(calls) == 4 and health.report().healthy


@pytest.mark.parametrize("failure", [errors.StoreRejectedError("400 Bad Request"), errors.StoreError("not open"),
                                     IndexInputError("3 rows for 2 pairs"), ZeroDivisionError("a bug")])
def test_permanent_errors_and_bugs_are_never_retried(failure: Exception) -> None:
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise failure

    with pytest.raises(type(failure)):
        policy().call(failing, "storing")
    assert calls == [1]


def test_a_record_too_large_for_the_dead_letter_topic_is_not_retried() -> None:
    calls: list[int] = []

    def send() -> None:
        calls.append(1)
        raise errors.RecordTooLargeError("17 MB > 16 MB")

    with pytest.raises(errors.RecordTooLargeError):
        policy().call(send, "sending dead letters", retry_on=errors.BrokerError)
    assert calls == [1]


def test_a_bug_in_the_indexer_propagates_as_itself_and_writes_nothing(monkeypatch) -> None:
    embedder, store = FakeEmbedder(), MemoryPairStore()
    store.open(embedder.dim)
    pairs = [TaggedPair(f"{n:032x}", "https://a.example", "https://a.example/eng/faq", "eng", 0.9,
                        f"Question {n} poisoned?", f"Answer {n}.", "", "", "2026-01-01T00:00:00Z") for n in range(3)]
    vectors = embedder.encode([pair.embedding_text() for pair in pairs])
    monkeypatch.setattr(indexer_module, "align_origin", align_origin_with_bug("poisoned"))
    with pytest.raises(InjectedBug):  # not a StoreError: it would be retried for ever as an outage
        PairIndexer(store, 0.9, 0.5).apply(pairs, vectors, meta={"checkpoint": {"n": 1}})
    assert store.count() == 0 and store.get_meta("checkpoint") is None
    with pytest.raises(IndexInputError):
        PairIndexer(store, 0.9, 0.5).apply(pairs, np.zeros((2, embedder.dim)))


class Attempts:
    """``attempt`` for ``isolate_failures``: fails when a part holds a bad item (or, for a pair, when the
    second item meets the first already "stored"); remembers what succeeded."""

    def __init__(self, bad: set[int], needs_partner: dict[int, int] | None = None) -> None:
        self.bad, self.needs_partner = bad, needs_partner or {}
        self.stored: list[int] = []
        self.calls = 0

    def __call__(self, part: Sequence[int]) -> None:
        self.calls += 1
        for item in part:
            partner = self.needs_partner.get(item)
            if item in self.bad or (partner is not None and (partner in self.stored or partner in part)):
                raise ValueError(f"item {item}")
        self.stored += part


@pytest.mark.parametrize("bad", [set(), {0}, {63}, {3, 50, 51, 97}, set(range(0, 100, 9))])
def test_bisection_finds_exactly_the_failing_items(bad: set[int]) -> None:
    items = list(range(100))
    attempt = Attempts(bad)
    failures = isolate_failures(items, attempt)
    assert [item for item, _ in failures] == sorted(bad)
    assert all(str(exc) == f"item {item}" for item, exc in failures)
    assert sorted(attempt.stored) == sorted(set(items) - bad) and len(attempt.stored) == len(set(attempt.stored))
    assert attempt.calls <= 2 * len(bad) * math.ceil(math.log2(len(items))) + 1


def test_bisection_returns_the_second_of_two_items_that_fail_together() -> None:
    attempt = Attempts(set(), needs_partner={41: 7})
    assert [item for item, _ in isolate_failures(list(range(64)), attempt)] == [41]
    assert 7 in attempt.stored


def test_bisection_stops_at_a_fatal_error_and_tries_nothing_for_no_items() -> None:
    def abandoned(part: Sequence[int]) -> None:
        raise BatchAbandoned("stop")

    with pytest.raises(BatchAbandoned):
        isolate_failures([1, 2, 3], abandoned, fatal=(BatchAbandoned,))
    attempt = Attempts({1})
    assert isolate_failures([], attempt) == [] and attempt.calls == 0
