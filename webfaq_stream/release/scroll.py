"""Reading a store for a release in a thread: ``read_ahead(items, depth)``.

``read_ahead`` yields the same items as ``items``, produced by a background thread at most ``depth``
items ahead, so the engine's scroll (:func:`webfaq_stream.store.pages.payload_pages`) overlaps the
caller's work. An exception in the producer is raised in the caller; closing the iterator (or an
exception in the caller) stops the thread before it returns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()


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
