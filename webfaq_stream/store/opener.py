"""The one store opener: the configured pair store, opened and ready.

``open_store(settings, dim=None, wide_dim=0, *, must_exist=False) -> PairStore``:
- ``WEBFAQ_QDRANT_URL`` set: the Qdrant server or cluster through qdrant-client; unset: the embedded
  qdrant-edge-py store in ``<WEBFAQ_STORE_DIR>/<WEBFAQ_COLLECTION>`` (one process owns it: a second
  gets ``StoreLockedError``). The adapters are :mod:`webfaq_stream.adapters.qdrant`.
- ``dim`` and ``wide_dim`` are the widths of the ``qa`` and ``wide`` vectors the caller writes or
  queries with (``StoreModels.dim``, ``StoreModels.wide_dim``; ``wide_dim`` 0: none). ``dim=None``
  opens the store with the widths it was created with, for readers that need no model (releases,
  ingest counts): the embedded store's own config, or the configured models' widths on a server.
- ``must_exist`` (implied by ``dim=None``): an embedded store that was never written raises
  ``StoreMissingError`` instead of being created, so read-only commands never create stores.
Every failure is a ``StoreError`` (or a subclass). The caller closes the store.
"""

from __future__ import annotations

from pathlib import Path

from webfaq_stream.errors import StoreMissingError
from webfaq_stream.ports import PairStore
from webfaq_stream.settings import Settings


def store_location(settings: Settings) -> str:
    """Where the configured store is: the server URL or the embedded store's directory."""
    return settings.qdrant_url or str(Path(settings.store_dir) / settings.collection)


def open_store(settings: Settings, dim: int | None = None, wide_dim: int = 0, *,
               must_exist: bool = False) -> PairStore:
    """The configured store, opened (see the module docstring)."""
    from webfaq_stream.adapters.qdrant.opener import open_pair_store

    embedded = not (settings.qdrant_url or "").strip()
    if embedded and (must_exist or dim is None):
        from webfaq_stream.adapters.qdrant.edge import created_dims

        stored = created_dims(Path(settings.store_dir) / settings.collection)
        if stored is None:
            raise StoreMissingError(f"no store at {store_location(settings)} "
                                    "(WEBFAQ_STORE_DIR; run a worker or 'ingest' first)")
        if dim is None:
            dim, wide_dim = stored
    if dim is None:
        from webfaq_stream.embed.models import configured_models

        models = configured_models(settings)
        dim, wide_dim = models.dim, models.wide_dim
    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    store = open_pair_store(url=settings.qdrant_url, api_key=api_key, path=settings.store_dir,
                            collection=settings.collection)
    store.open(dim, wide_dim)
    return store
