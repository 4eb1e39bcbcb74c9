"""Point-in-time reads of a store that a worker keeps writing: ``ReleaseGate``.

``ReleaseGate(store)`` is a ``PairStore`` (exactly the port: no other attribute of the store passes
through) and a ``ports.PointInTimeSource``. The worker writes through it and wraps each
batch (its data writes *and* its checkpoint ``set_meta``) in ``with gate.batch():``. A release
calls ``gate.cut()``, which waits for the batch in progress to end, then holds the gate only
long enough to read the checkpoint and start an undo log (microseconds): the worker is never
paused for the length of a release.

While a cut is open, every write through the gate first saves the pre-image of the points it
touches (``None`` for points that did not exist), deletes included. ``PointInTimeView.scroll()``
reads the live store and substitutes those pre-images, skipping points created after the cut and
merging back, in id order, points deleted after it, so it yields exactly the store as it was at
the cut, in id order, with the checkpoint of that moment.

Guarantee: exact as long as every writer of the store writes through this gate (the embedded
store: one process owns it; or a server written by this process only). Writers in other
processes are not seen by the undo log (see ``ReleaseResult.manifest["consistency"]``).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

from webfaq_stream.domain.model import StoredPair
from webfaq_stream.ports import PairStore
from webfaq_stream.store.pages import payload_pages

CHECKPOINT_KEY = "checkpoint"


class PointInTimeView:
    """The store as of one cut. Use as a context manager; ``close()`` ends the undo log."""

    def __init__(self, gate: ReleaseGate, checkpoint: dict[str, Any] | None, paused_s: float,
                 waited_s: float) -> None:
        self._gate = gate
        self.checkpoint = checkpoint
        #: How long the gate was held by the cut (the longest the worker could have been paused).
        self.paused_s = paused_s
        #: How long the cut waited for the worker's batch in progress.
        self.waited_s = waited_s
        self.pre_images: dict[str, StoredPair | None] = {}
        #: Ids deleted since the cut, sorted (their pre-images are in ``pre_images``).
        self.deleted: list[str] = []

    def scroll(self, batch_size: int = 1000) -> Iterator[StoredPair]:
        """Every point as it was at the cut, in id order."""
        for page in self.payload_pages(batch_size):
            yield from (StoredPair.from_payload(payload) for payload in page)

    def payload_pages(self, batch_size: int = 10_000) -> Iterator[list[dict[str, Any]]]:
        """Pages of payload dicts (:func:`~webfaq_stream.store.pages.payload_pages`) as they were at the cut."""
        last = ""
        for page in payload_pages(self._gate.inner, batch_size):
            high = page[-1]["id"]
            with self._gate._lock:
                before = self.pre_images
                saved = {p["id"]: before[p["id"]] for p in page if p["id"] in before} if before else {}
                gone = self._deleted_between(last, high, {p["id"] for p in page}) if self.deleted else []
            page = _as_of_cut(page, saved) if saved else page
            last = high
            yield sorted(page + gone, key=lambda payload: payload["id"]) if gone else page
        with self._gate._lock:
            rest = self._deleted_between(last, None, set())
        if rest:
            yield rest

    def _deleted_between(self, low: str, high: str | None, present: set[str]) -> list[dict[str, Any]]:
        """Payloads at the cut of points deleted since, with ids in ``(low, high]``, not in ``present``."""
        start = bisect.bisect_right(self.deleted, low)
        end = len(self.deleted) if high is None else bisect.bisect_right(self.deleted, high)
        return [saved.payload() for pair_id in self.deleted[start:end]
                if pair_id not in present and (saved := self.pre_images.get(pair_id)) is not None]

    def close(self) -> None:
        self._gate._end_view(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _as_of_cut(page: list[dict[str, Any]], saved: Mapping[str, StoredPair | None]) -> list[dict[str, Any]]:
    """``page`` with the saved pre-images in place of later values; points made after the cut dropped."""
    result = []
    for payload in page:
        if payload["id"] not in saved:
            result.append(payload)
            continue
        before = saved[payload["id"]]
        if before is not None:
            result.append(before.payload())
    return result


class ReleaseGate:
    """A ``PairStore`` proxy giving releases consistent cuts while a worker writes (module doc)."""

    def __init__(self, store: PairStore) -> None:
        self.inner = store
        self._batch_lock = threading.Lock()  # held by the worker for a whole batch
        self._lock = threading.Lock()        # guards the views and their pre-images
        self._views: list[PointInTimeView] = []

    # --- coordination -----------------------------------------------------------------------
    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the gate while one batch (data and checkpoint) is applied."""
        with self._batch_lock:
            yield

    def cut(self, timeout_s: float | None = None) -> PointInTimeView:
        """Open a view of the store between two batches; ``TimeoutError`` past ``timeout_s``."""
        started = time.monotonic()
        if not self._batch_lock.acquire(timeout=-1 if timeout_s is None else timeout_s):
            raise TimeoutError("the worker's batch did not finish in time for a release cut")
        held = time.monotonic()
        try:
            view = PointInTimeView(self, self.inner.get_meta(CHECKPOINT_KEY), 0.0, held - started)
            with self._lock:
                self._views.append(view)
        finally:
            self._batch_lock.release()
        view.paused_s = time.monotonic() - held
        return view

    def _end_view(self, view: PointInTimeView) -> None:
        with self._lock:
            if view in self._views:
                self._views.remove(view)
            view.pre_images, view.deleted = {}, []

    def _save_pre_images(self, ids: Sequence[str]) -> None:
        with self._lock:
            views = list(self._views)
            missing = {i for view in views for i in ids if i not in view.pre_images}
        if not missing:
            return
        current = self.inner.get(sorted(missing), with_vectors=False)
        with self._lock:
            for view in self._views:
                for pair_id in missing:
                    view.pre_images.setdefault(pair_id, current.get(pair_id))

    # --- PairStore: writes save pre-images first ------------------------------------------
    # Writes belong inside ``batch()``: no cut can start while one runs, so ``_views`` is stable.
    def upsert(self, pairs: Sequence[StoredPair],
               meta: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        if self._views:
            self._save_pre_images([p.id for p in pairs])
        self.inner.upsert(pairs, meta=meta)

    def set_payload(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        if self._views:
            self._save_pre_images(list(updates))
        self.inner.set_payload(updates)

    def delete(self, ids: Sequence[str]) -> None:
        """Open views keep the deleted points: their pre-images are merged back into the views' scrolls."""
        if self._views:
            self._save_pre_images(ids)
            with self._lock:
                for view in self._views:
                    known = set(view.deleted)
                    for pair_id in ids:
                        if pair_id not in known:
                            bisect.insort(view.deleted, pair_id)
                            known.add(pair_id)
        self.inner.delete(ids)

    def set_meta(self, key: str, value: Mapping[str, Any]) -> None:
        self.inner.set_meta(key, value)

    # --- PairStore: reads and lifecycle pass through -----------------------------------------
    def open(self, dim: int, wide_dim: int = 0) -> None:
        self.inner.open(dim, wide_dim)

    def close(self) -> None:
        self.inner.close()

    def get(self, ids: Sequence[str], with_vectors: bool = False) -> dict[str, StoredPair]:
        return self.inner.get(ids, with_vectors=with_vectors)

    def origin_pairs(self, origin: str, language: str | None = None,
                     with_vectors: bool = True) -> list[StoredPair]:
        return self.inner.origin_pairs(origin, language=language, with_vectors=with_vectors)

    def scroll(self, batch_size: int = 1000, with_vectors: bool = False) -> Iterator[StoredPair]:
        return self.inner.scroll(batch_size=batch_size, with_vectors=with_vectors)

    def count(self, language: str | None = None) -> int:
        return self.inner.count(language)

    def search(self, vector: Sequence[float], limit: int = 10, language: str | None = None,
               origin: str | None = None) -> list[tuple[StoredPair, float]]:
        return self.inner.search(vector, limit=limit, language=language, origin=origin)

    def get_meta(self, key: str) -> dict[str, Any] | None:
        return self.inner.get_meta(key)
