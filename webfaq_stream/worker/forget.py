"""The service behind ``webfaq-stream forget``, on either side of the store's owner.

Caller's side:
- ``forget_now(settings, texts, reason, wait_s) -> dict``: parses ``texts`` as targets (origins,
  bare hosts or URLs; ``ForgetError`` for one that is none) and forgets them
  (:func:`webfaq_stream.store.forget.forget`). It opens the store itself when it can; when the
  embedded store is held by a running worker it drops a forget request in
  ``<store_dir>/.requests/`` that the worker answers between two batches, and waits up to
  ``wait_s`` seconds for the answer. Returns the report: tombstones added, pairs removed per target,
  their ids.
- ``list_tombstones(settings, wait_s) -> dict``: the tombstones, the same way (read by the worker
  when it holds the store).

Owner's side (the worker, embedded store): :class:`ForgetRequests` answers those requests from a
daemon thread; each forget runs inside ``gate.batch()``, so it never interleaves with a batch and a
release's cut sees all of it or none of it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from webfaq_stream.adapters.request_files import RequestBox
from webfaq_stream.domain.model import iso_time, utc_now
from webfaq_stream.domain.tombstones import parse_targets
from webfaq_stream.errors import StoreLockedError, WebFAQError
from webfaq_stream.ports import PairStore
from webfaq_stream.settings import Settings
from webfaq_stream.store.forget import forget, read_tombstones
from webfaq_stream.store.gate import ReleaseGate
from webfaq_stream.store.indexer import PairIndexer

log = logging.getLogger(__name__)

REQUEST_KIND = "forget"


class ForgetError(WebFAQError):
    """A forget could not be done: a bad target, or no answer from the worker holding the store."""


def request_box(settings: Settings) -> RequestBox:
    """Where forget requests to the worker that holds the embedded store go."""
    return RequestBox(Path(settings.store_dir) / ".requests", REQUEST_KIND)


def store_indexer(store: PairStore, settings: Settings) -> PairIndexer:
    """The worker's indexer for a store this process opened: the configured models (their alignment
    rule, thresholds and vectors), refused with ``ConfigurationError`` when the store was built by
    other models."""
    from webfaq_stream.embed.models import configured_models
    from webfaq_stream.worker.batch import MODEL_KEY, check_store_model, pair_indexer

    models = configured_models(settings)
    check_store_model(store.get_meta(MODEL_KEY), models)
    return pair_indexer(store, models)


def handle(store: PairStore, indexer: PairIndexer, request: dict[str, Any]) -> dict[str, Any]:
    """Do one request (``{"action": "forget", "targets", "reason"}`` or ``{"action": "list"}``) on a
    store this process owns; returns the answer document."""
    if request.get("action") == "list":
        return {"tombstones": read_tombstones(store).as_meta()["tombstones"]}
    targets = parse_targets(request.get("targets") or [])
    return forget(store, indexer, targets, str(request.get("reason") or ""), iso_time(utc_now())).as_dict()


def forget_now(settings: Settings, texts: list[str], reason: str, *, wait_s: float) -> dict[str, Any]:
    """Forget ``texts`` (see the module docstring); returns the report."""
    try:
        targets = parse_targets(texts)
    except ValueError as exc:
        raise ForgetError(str(exc)) from None
    if not targets:
        raise ForgetError("nothing to forget: name an origin, a host or a URL")
    return _on_store(settings, {"action": "forget", "targets": [t.value for t in targets], "reason": reason},
                     wait_s)


def list_tombstones(settings: Settings, *, wait_s: float) -> dict[str, Any]:
    """``{"tombstones": {target: {kind, reason, time, removed}}}``."""
    return _on_store(settings, {"action": "list"}, wait_s)


def _on_store(settings: Settings, request: dict[str, Any], wait_s: float) -> dict[str, Any]:
    from webfaq_stream.store.opener import open_store

    try:
        store = open_store(settings, must_exist=True)
    except StoreLockedError:
        return _ask_worker(settings, request, wait_s)
    try:
        return handle(store, store_indexer(store, settings), request)
    finally:
        store.close()


def _ask_worker(settings: Settings, request: dict[str, Any], wait_s: float) -> dict[str, Any]:
    box = request_box(settings)
    request_id = box.submit(request)
    log.info("the store is held by a running worker; asked it (request %s)", request_id)
    answer = box.wait(request_id, wait_s)
    if answer is None:
        raise ForgetError(f"no worker answered forget request {request_id} within {wait_s:.0f} s "
                          "(is a worker running with this store_dir?)")
    if answer.get("error"):
        raise ForgetError(f"the worker could not do it: {answer['error']}")
    return answer


class ForgetRequests:
    """The worker's side: answers forget requests in a daemon thread, each inside ``gate.batch()``."""

    def __init__(self, settings: Settings, gate: ReleaseGate, indexer: PairIndexer, *, poll_s: float = 1.0) -> None:
        self.box = request_box(settings)
        self.gate = gate
        self.indexer = indexer
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="forget-requests", daemon=True)

    def start(self) -> ForgetRequests:
        self._thread.start()
        return self

    def stop(self, timeout_s: float | None = None) -> None:
        """End the loop (a request in progress is finished first)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def run_pending(self) -> int:
        """Answer every pending request now; returns how many were answered."""
        answered = 0
        for request_id in self.box.pending():
            request = self.box.read(request_id) or {}
            try:
                with self.gate.batch():
                    answer = handle(self.gate, self.indexer, request)
            except (WebFAQError, ValueError) as exc:
                log.error("forget request %s failed: %s", request_id, exc)
                answer = {"error": str(exc)}
            except Exception as exc:
                log.exception("forget request %s failed", request_id)
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            else:
                log.info("forget request %s done: %s", request_id,
                         {k: v for k, v in answer.items() if k != "ids"})
            self.box.answer([request_id], answer)
            answered += 1
        return answered

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_pending()
            self._stop.wait(self.poll_s)
