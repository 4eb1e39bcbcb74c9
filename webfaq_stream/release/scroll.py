"""Reading a store for a release: pages of pair payloads, and a read-ahead thread.

- ``payload_pages(store, batch_size)`` yields every pair of ``store`` as payload dicts (the keys
  of ``StoredPair.PAYLOAD_FIELDS``, ``id`` always set), a page (list) at a time, in ascending id
  order. A store with the ``ports.PayloadPageSource`` capability (the embedded store) serves them
  straight from the engine, with no ``StoredPair`` objects; any other store (the server store, a
  wrapper such as the fault-injecting store) goes through ``scroll()`` and ``StoredPair.payload()``.
- ``read_ahead(items, depth)`` yields the same items, produced by a background thread at most
  ``depth`` items ahead, so the engine's scroll overlaps the caller's work. An exception in the
  producer is raised in the caller; closing the iterator (or an exception in the caller) stops the
  thread before it returns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from webfaq_stream.ports import PairStore, PayloadPageSource

T = TypeVar("T")
_END = object()


def payload_pages(store: PairStore, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """Pages of pair payloads in ascending id order (module docstring)."""
    if isinstance(store, PayloadPageSource):
        yield from store.scroll_payload_pages(batch_size=batch_size)
        return
    page: list[dict[str, Any]] = []
    for pair in store.scroll(batch_size=batch_size, with_vectors=False):
        page.append(pair.payload())
        if len(page) >= batch_size:
            yield page
            page = []
    if page:
        yield page


def read_ahead(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``items``, produced by a daemon thread up to ``depth`` ahead (module docstring)."""
    slots: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(entry: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            put((None, exc))

    thread = threading.Thread(target=produce, name="release-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        thread.join()
