"""Requests to the process that owns a resource, as files in a directory, and their answers.

The embedded store is owned by one process (the worker). Another process that needs something done
with it (a release, a forget) drops a request file and waits for the answer the owner writes.

Contract of :class:`RequestBox` (``directory``, ``kind``: the file suffix, e.g. ``"request"``):
- ``submit(payload)`` writes ``<id>.<kind>`` (JSON: ``payload`` plus ``pid`` and ``time``) atomically
  and returns the id (ids sort by submission time);
- ``pending()`` lists unanswered ids, oldest first; ``read(id)`` returns a request's payload
  (``None`` when it vanished or is unreadable);
- ``answer(ids, document)`` writes ``<id>.done`` atomically for each and removes the requests;
- ``wait(id, timeout_s)`` polls for the answer, removes it and returns it; on timeout it withdraws
  the request and returns ``None``.
Files are written to a temporary name and renamed, so a reader never sees half a document.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from webfaq_stream.domain.model import utc_now

ANSWER_SUFFIX = ".done"


class RequestBox:
    """Request and answer files of one kind in ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path, kind: str = "request") -> None:
        self.directory = Path(directory)
        self.suffix = f".{kind}"

    def submit(self, payload: dict[str, Any] | None = None) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        request_id = f"{utc_now().strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        write_json_atomic(self.directory / f"{request_id}{self.suffix}",
                          {**(payload or {}), "pid": os.getpid(), "time": time.time()})
        return request_id

    def pending(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.name.removesuffix(self.suffix) for p in self.directory.glob(f"*{self.suffix}"))

    def read(self, request_id: str) -> dict[str, Any] | None:
        try:
            document = json.loads((self.directory / f"{request_id}{self.suffix}").read_text())
        except (OSError, ValueError):
            return None
        return document if isinstance(document, dict) else None

    def answer(self, request_ids: list[str], document: dict[str, Any]) -> None:
        for request_id in request_ids:
            write_json_atomic(self.directory / f"{request_id}{ANSWER_SUFFIX}", document)
            (self.directory / f"{request_id}{self.suffix}").unlink(missing_ok=True)

    def wait(self, request_id: str, timeout_s: float, poll_s: float = 0.5) -> dict[str, Any] | None:
        path = self.directory / f"{request_id}{ANSWER_SUFFIX}"
        deadline = time.monotonic() + timeout_s
        while not path.exists():
            if time.monotonic() >= deadline:
                (self.directory / f"{request_id}{self.suffix}").unlink(missing_ok=True)
                return None
            time.sleep(poll_s)
        answer = json.loads(path.read_text())
        path.unlink(missing_ok=True)
        return answer


def write_json_atomic(path: Path, document: Any, *, durable: bool = False) -> None:
    """Write ``document`` as JSON at ``path`` through a temporary file and a rename; with ``durable``
    the file and its directory are fsynced, so the new content survives a crash of the machine."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temp.open("w", encoding="utf-8") as handle:
        json.dump(document, handle, sort_keys=True)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(temp, path)
    if durable:
        descriptor = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
