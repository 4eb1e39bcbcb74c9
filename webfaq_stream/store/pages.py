"""A store's pairs as pages of payload dicts: ``payload_pages(store, batch_size)``.

Yields every pair of ``store`` as payload dicts (the keys of ``StoredPair.PAYLOAD_FIELDS``, ``id``
always set), a page (list) at a time, in ascending id order. A store with the
``ports.PayloadPageSource`` capability (the embedded store) serves them straight from the engine, with
no ``StoredPair`` objects; any other store (the server store, a wrapper such as the fault-injecting
store) goes through ``scroll()`` and ``StoredPair.payload()``. Releases read the store this way (directly, or as of a cut through
:class:`webfaq_stream.store.gate.PointInTimeView`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from webfaq_stream.ports import PairStore, PayloadPageSource


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
