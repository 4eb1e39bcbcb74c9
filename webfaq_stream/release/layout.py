"""The release directory on disk: release ids, listing, temporary dirs, the lock, pruning.

Contract:
- A release id is the UTC time it was cut, ``YYYY-MM-DDTHHMMSSZ`` (``2026-11-22T031500Z``), with a
  ``-N`` suffix only when two releases are cut within the same second; ids sort by time as text.
- ``<release_dir>/<release_id>/`` is a finished release. Anything dot-prefixed is not: releases are
  written to ``.tmp-<release_id>-<pid>/`` and renamed into place (``publish``), so a reader never
  sees half a release; ``clean_stale`` removes what a crashed run left behind.
- ``ReleaseLock`` makes sure one release runs at a time: ``fcntl.flock`` on ``.release.lock``
  for processes on one machine (released by the kernel when the holder dies, even by SIGKILL),
  plus a lease file ``.release.lease`` created with ``O_EXCL`` for hosts that share the
  directory (NFS or similar). A lease whose holder is dead (same host) or expired is broken.
- ``prune`` keeps the newest ``retention`` releases.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from webfaq_stream.errors import ReleaseError

RELEASE_ID_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{6}Z(?:-\d+)?$")
TMP_PREFIX = ".tmp-"
LOCK_NAME = ".release.lock"
LEASE_NAME = ".release.lease"
#: A lease older than this is considered abandoned even when its holder cannot be checked.
LEASE_TTL_S = 6 * 3600


class ReleaseBusyError(ReleaseError):
    """Another release holds the lock (not a failure: the caller may skip or retry)."""


def release_id_for(moment: datetime, release_dir: Path) -> str:
    """The id of a release cut at ``moment`` (UTC), unique within ``release_dir``."""
    base = moment.astimezone(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    candidate, n = base, 0
    while (release_dir / candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def release_time(release_id: str) -> datetime:
    """The UTC time a release was cut, from its id."""
    return datetime.strptime(release_id[:18], "%Y-%m-%dT%H%M%SZ").replace(tzinfo=UTC)


def list_releases(release_dir: Path) -> list[str]:
    """Ids of the finished releases in ``release_dir``, oldest first."""
    if not release_dir.is_dir():
        return []
    ids = [p.name for p in release_dir.iterdir()
           if p.is_dir() and RELEASE_ID_RE.match(p.name) and (p / "manifest.json").is_file()]
    return sorted(ids, key=_release_sort_key)


def _release_sort_key(release_id: str) -> tuple[str, int]:
    base, _, n = release_id.partition("Z-")
    return (base if n else release_id.rstrip("Z"), int(n) if n else 0)


def resolve_release(release_dir: Path, ref: str) -> Path:
    """A release directory from an id, ``latest``, or a path; ``ReleaseError`` if it is not one."""
    if ref == "latest":
        ids = list_releases(release_dir)
        if not ids:
            raise ReleaseError(f"no release in {release_dir}")
        return release_dir / ids[-1]
    path = Path(ref)
    if not (path / "manifest.json").is_file():
        path = release_dir / ref
    if not (path / "manifest.json").is_file():
        raise ReleaseError(f"not a release (no manifest.json): {ref}")
    return path


def temp_dir_for(release_dir: Path, release_id: str) -> Path:
    """A fresh, empty temporary directory in which a release is written."""
    path = release_dir / f"{TMP_PREFIX}{release_id}-{os.getpid()}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def clean_stale(release_dir: Path) -> list[str]:
    """Remove temporary directories left by crashed runs; call only while holding the lock."""
    removed = []
    if release_dir.is_dir():
        for path in release_dir.iterdir():
            if path.name.startswith(TMP_PREFIX) and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
    return removed


def publish(temp_dir: Path, final_dir: Path) -> None:
    """Make a written release visible: fsync its files, rename it into place, fsync the parent."""
    for path in sorted(temp_dir.rglob("*")):
        if path.is_file():
            _fsync_path(path)
    for path in sorted({p.parent for p in temp_dir.rglob("*")} | {temp_dir}):
        _fsync_path(path)
    if final_dir.exists():
        raise ReleaseError(f"release already exists: {final_dir}")
    os.rename(temp_dir, final_dir)
    _fsync_path(final_dir.parent)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def prune(release_dir: Path, retention: int) -> list[str]:
    """Delete all but the newest ``retention`` releases; returns the ids removed."""
    ids = list_releases(release_dir)
    doomed = ids[:-retention] if retention > 0 else ids
    for release_id in doomed:
        # Rename first so that a crash mid-delete leaves a dot-dir (cleaned later), not half a release.
        trash = release_dir / f"{TMP_PREFIX}prune-{release_id}"
        os.rename(release_dir / release_id, trash)
        shutil.rmtree(trash, ignore_errors=True)
    return doomed


class ReleaseLock:
    """One release at a time in ``release_dir``: flock (one machine) + O_EXCL lease (shared dir).

    ``acquire(timeout_s)`` waits up to ``timeout_s`` (0: do not wait) and raises
    ``ReleaseError("release already running ...")`` when it cannot get the lock.
    """

    def __init__(self, release_dir: Path, timeout_s: float = 0.0) -> None:
        self.release_dir = release_dir
        self.timeout_s = timeout_s
        self._fd: int | None = None
        self._lease: Path = release_dir / LEASE_NAME

    def acquire(self) -> None:
        self.release_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.timeout_s
        fd = os.open(self.release_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise ReleaseBusyError(f"a release is already running in {self.release_dir}") from None
                time.sleep(0.2)
        self._fd = fd
        try:
            self._take_lease(deadline)
        except BaseException:
            self._unlock()
            raise

    def _take_lease(self, deadline: float) -> None:
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
        while True:
            try:
                lease_fd = os.open(self._lease, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if self._lease_abandoned():
                    self._lease.unlink(missing_ok=True)
                    continue
                if time.monotonic() >= deadline:
                    raise ReleaseBusyError(
                        f"a release is already running in {self.release_dir} ({self._read_lease()})"
                    ) from None
                time.sleep(0.2)
                continue
            with os.fdopen(lease_fd, "w") as handle:
                json.dump(holder, handle)
            return

    def _read_lease(self) -> dict:
        try:
            return json.loads(self._lease.read_text())
        except (OSError, ValueError):
            return {}

    def _lease_abandoned(self) -> bool:
        lease = self._read_lease()
        if not lease:  # unreadable or being written; give it a moment, then treat as stale
            try:
                return time.time() - self._lease.stat().st_mtime > 5
            except FileNotFoundError:
                return True
        if time.time() - float(lease.get("since", 0)) > LEASE_TTL_S:
            return True
        if lease.get("host") == socket.gethostname():
            return not _pid_alive(int(lease.get("pid", 0)))
        return False

    def release(self) -> None:
        if self._fd is None:
            return
        lease = self._read_lease()
        if lease.get("pid") == os.getpid() and lease.get("host") == socket.gethostname():
            self._lease.unlink(missing_ok=True)
        self._unlock()

    def _unlock(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True
