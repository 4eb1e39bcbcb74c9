"""Fault injection in a real pair store: operations fail while a flag file exists.

:class:`FaultInjectingStore` wraps any ``ports.PairStore`` (the embedded qdrant-edge store, the
qdrant-client store) and, while ``flag_path`` exists, raises ``StoreError`` instead of calling
the real store. The flag file's content picks the fault:

- ``disk_full`` (or an empty file): writes (``upsert``, ``set_payload``, ``set_meta``, ``flush``,
  ``optimize``) fail as a full disk would; reads work;
- ``unreachable``: every operation fails, as with a server that is down.

Removing the file ends the fault; the wrapped store is untouched by failed calls, so what the
caller sees afterwards is exactly the real store. :func:`open_pair_store` in
``webfaq_stream.adapters.qdrant.opener`` wraps its store in one when ``WEBFAQ_FAULT_STORE_FLAG`` (the variable
named by :data:`FAULT_FLAG_ENV`) is set: fault-injection tests of the whole worker use it. It is
off unless that variable is set, and it never reads or follows anything but the one path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from webfaq_stream.domain.model import StoredPair
from webfaq_stream.errors import StoreError
from webfaq_stream.ports import PairStore

#: Environment variable naming the flag file; unset means no fault injection.
FAULT_FLAG_ENV = "WEBFAQ_FAULT_STORE_FLAG"
UNREACHABLE = "unreachable"
DISK_FULL = "disk_full"


class FaultInjectingStore:
    """A ``PairStore`` that fails while ``flag_path`` exists (see the module docstring)."""

    def __init__(self, inner: PairStore, flag_path: Path) -> None:
        self.inner = inner
        self.flag_path = Path(flag_path)
        self.injected = 0

    def _fault(self) -> str | None:
        try:
            text = self.flag_path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError:
            text = ""
        return UNREACHABLE if text == UNREACHABLE else DISK_FULL

    def _check(self, write: bool, what: str) -> None:
        fault = self._fault()
        if fault == UNREACHABLE or (fault == DISK_FULL and write):
            self.injected += 1
            detail = "No space left on device (os error 28)" if fault == DISK_FULL else "connection refused"
            raise StoreError(f"injected fault ({fault}) in {what}: {detail}")

    # --- lifecycle (never faulted: a worker must be able to start and stop) ----------------
    def open(self, dim: int) -> None:
        self.inner.open(dim)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:  # dim, directory... of the real store
        return getattr(self.inner, name)

    # --- writes ------------------------------------------------------------------------------
    def upsert(self, pairs: Sequence[StoredPair], meta: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._check(True, "upsert")
        self.inner.upsert(pairs, meta=meta)

    def set_payload(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        self._check(True, "set_payload")
        self.inner.set_payload(updates)

    def set_meta(self, key: str, value: Mapping[str, Any]) -> None:
        self._check(True, "set_meta")
        self.inner.set_meta(key, value)

    def flush(self) -> None:
        self._check(True, "flush")
        self.inner.flush()  # type: ignore[attr-defined]

    def optimize(self) -> bool:
        self._check(True, "optimize")
        return bool(self.inner.optimize())  # type: ignore[attr-defined]

    # --- reads -------------------------------------------------------------------------------
    def get(self, ids: Sequence[str], with_vectors: bool = False) -> dict[str, StoredPair]:
        self._check(False, "retrieve")
        return self.inner.get(ids, with_vectors=with_vectors)

    def get_meta(self, key: str) -> dict[str, Any] | None:
        self._check(False, "retrieve")
        return self.inner.get_meta(key)

    def origin_pairs(self, origin: str, language: str | None = None,
                     with_vectors: bool = True) -> list[StoredPair]:
        self._check(False, "scroll")
        return self.inner.origin_pairs(origin, language, with_vectors)

    def scroll(self, batch_size: int = 1000, with_vectors: bool = False) -> Iterator[StoredPair]:
        self._check(False, "scroll")
        return self.inner.scroll(batch_size, with_vectors)

    def count(self, language: str | None = None) -> int:
        self._check(False, "count")
        return self.inner.count(language)

    def search(self, vector: Sequence[float], limit: int = 10, language: str | None = None,
               origin: str | None = None) -> list[tuple[StoredPair, float]]:
        self._check(False, "query")
        return self.inner.search(vector, limit, language, origin)
