"""A release process killed (SIGKILL) mid-write leaves the previous release intact and no visible
partial release; the next run cleans up after it and succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_release_support import fixture_pairs, make_pair, open_store

from webfaq_stream.release.build import write_release
from webfaq_stream.release.layout import LEASE_NAME, list_releases
from webfaq_stream.release.manifest import verify_files
from webfaq_stream.settings import Settings

REPO = Path(__file__).resolve().parents[1]
CHILD = """
import sys
from pathlib import Path
from webfaq_stream.adapters.qdrant.opener import open_pair_store
from webfaq_stream.release.build import write_release
from webfaq_stream.settings import Settings
store = open_pair_store(url=None, api_key=None, path=Path(sys.argv[1]), collection="webfaq")
store.open(8)
write_release(store, Settings(release_dir=Path(sys.argv[2]), release_part_rows=200), progress=False)
"""


def test_sigkill_mid_release_leaves_previous_release_intact(tmp_path: Path) -> None:
    store_dir, release_dir = tmp_path / "store", tmp_path / "releases"
    settings = Settings(release_dir=release_dir, release_part_rows=200)
    store = open_store(store_dir)
    base = fixture_pairs()
    store.upsert(base)
    first = write_release(store, settings, progress=False)
    store.upsert([make_pair(f"{p.question} [{r}]", p.answer, p.url, p.language, "2026-11-21T00:00:00Z")
                  for r in range(25) for p in base])
    store.close()

    child = subprocess.Popen([sys.executable, "-c", CHILD, str(store_dir), str(release_dir)], cwd=REPO)
    deadline = time.monotonic() + 60
    partial: list[Path] = []
    while not partial and child.poll() is None and time.monotonic() < deadline:
        partial = [p for p in release_dir.glob(".tmp-*/data/*.parquet")]
        time.sleep(0.001)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(10) == -signal.SIGKILL
    assert partial, "the release finished before it could be killed mid-write"

    # the previous release is untouched and still the only visible one; the half is hidden
    assert list_releases(release_dir) == [first.release_id]
    assert verify_files(first.path) == []
    assert [p.name for p in release_dir.iterdir() if p.name.startswith(".tmp-")]
    assert (release_dir / LEASE_NAME).exists()  # held by a process that no longer exists

    store = open_store(store_dir)
    try:
        second = write_release(store, settings, progress=False)
        assert second.manifest["pairs"] == store.count() == len(base) * 26
    finally:
        store.close()
    assert list_releases(release_dir) == [first.release_id, second.release_id]
    assert not [p for p in release_dir.iterdir() if p.name.startswith(".tmp-")]
    assert verify_files(second.path) == []
    assert second.manifest["previous"]["added"] == len(base) * 25
