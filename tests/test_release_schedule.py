"""Release scheduling: cron times, the scheduler loop, and on-demand requests answered by the
process that holds the embedded store (the CLI run while a "worker" owns it)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from test_release_support import fixture_pairs, open_store

from webfaq_stream.errors import ConfigurationError, ReleaseError
from webfaq_stream.release.build import ReleaseGate, ReleaseResult, scheduled_releases, write_release
from webfaq_stream.release.layout import list_releases, release_time
from webfaq_stream.release.schedule import (
    ReleaseScheduler,
    next_release_time,
    pending_requests,
    submit_request,
    wait_for_answer,
)
from webfaq_stream.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_next_release_time_follows_cron_in_utc() -> None:
    nightly = Settings().release_schedule
    assert next_release_time(nightly, utc("2026-11-22T02:59:59")) == utc("2026-11-22T03:00:00")
    assert next_release_time(nightly, utc("2026-11-22T03:00:00")) == utc("2026-11-23T03:00:00")
    berlin = datetime(2026, 11, 22, 3, 30, tzinfo=UTC).astimezone(ZoneInfo("Europe/Berlin"))  # 04:30 local
    assert next_release_time("*/15 * * * *", berlin) == utc("2026-11-22T03:45:00")
    with pytest.raises(ConfigurationError, match="WEBFAQ_RELEASE_SCHEDULE"):
        next_release_time("every night", utc("2026-11-22T00:00:00"))


def test_scheduler_releases_when_due_and_survives_failures(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    store.upsert(fixture_pairs())
    settings = Settings(release_dir=tmp_path / "releases", release_schedule="0 * * * *")
    now = [utc("2026-11-22T10:59:00")]
    failures = [ReleaseError("disk full")]

    def make_release() -> ReleaseResult:
        if failures:
            raise failures.pop()
        return write_release(store, settings, progress=False)

    try:
        scheduler = ReleaseScheduler(settings, make_release, clock=lambda: now[0])
        assert scheduler.next_time == utc("2026-11-22T11:00:00")
        assert scheduler.run_pending() is None and list_releases(settings.release_dir) == []
        now[0] = utc("2026-11-22T11:00:01")
        assert scheduler.run_pending() is None and scheduler.last_error == "disk full"
        assert scheduler.next_time == utc("2026-11-22T12:00:00")
        now[0] = utc("2026-11-22T12:00:00")
        result = scheduler.run_pending()
        assert result is not None and list_releases(settings.release_dir) == [result.release_id]
        assert scheduler.last_error is None
        # a second scheduler on the same release directory (another worker) skips the taken slot
        other = ReleaseScheduler(settings, make_release, clock=lambda: datetime.now(UTC))
        other.next_time = release_time(result.release_id)  # the slot the first one just served
        assert other.run_pending() is None
        assert list_releases(settings.release_dir) == [result.release_id]
        assert other.next_time > release_time(result.release_id)
        # a request is answered at once, before the next scheduled time
        request = submit_request(settings.release_dir)
        answered = scheduler.run_pending()
        assert wait_for_answer(settings.release_dir, request, timeout_s=1)["release_id"] == answered.release_id
        # a failing release is answered as an error
        failures.append(ReleaseError("store unreachable"))
        request = submit_request(settings.release_dir)
        scheduler.run_pending()
        with pytest.raises(ReleaseError, match="store unreachable"):
            wait_for_answer(settings.release_dir, request, timeout_s=1)
    finally:
        store.close()


def test_nobody_answers_a_request(tmp_path: Path) -> None:
    request = submit_request(tmp_path)
    with pytest.raises(ReleaseError, match="no worker answered"):
        wait_for_answer(tmp_path, request, timeout_s=0.3, poll_s=0.1)
    assert pending_requests(tmp_path) == []


def test_cli_asks_the_worker_that_holds_the_embedded_store(tmp_path: Path) -> None:
    store_dir, release_dir = tmp_path / "store", tmp_path / "releases"
    store = open_store(store_dir)  # this process plays the worker: it owns the store
    store.upsert(fixture_pairs())
    gate = ReleaseGate(store)
    scheduler = scheduled_releases(gate, Settings(release_dir=release_dir, release_schedule="0 3 1 1 *"),
                                   poll_s=0.1)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "webfaq_stream.cli", "release", "--store-dir", str(store_dir),
             "--release-dir", str(release_dir), "--wait", "60"],
            check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    finally:
        scheduler.stop(30)
        store.close()
    assert done.returncode == 0, done.stderr
    assert "held by a running worker" in done.stderr
    [release_id] = list_releases(release_dir)
    assert f"release {release_id}" in done.stdout
    assert scheduler.last_result.release_id == release_id
    assert scheduler.last_result.manifest["consistency"] == "snapshot"

    # with the worker gone, the command opens the store itself
    done = subprocess.run(
        [sys.executable, "-m", "webfaq_stream.cli", "release", "--store-dir", str(store_dir),
         "--release-dir", str(release_dir), "--no-progress"],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "held by a running worker" not in done.stderr
    assert len(list_releases(release_dir)) == 2
    assert "+0 added, 0 updated, -0 removed" in done.stdout
