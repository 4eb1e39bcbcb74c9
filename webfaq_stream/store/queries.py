"""Read-only questions to the configured store: the pairs nearest to a text, the counts per language.

- ``search_pairs(settings, text, ...)`` embeds ``text`` with the configured model and returns the
  ``limit`` nearest stored pairs by cosine similarity, best first (the model is multilingual: a query
  in one language finds pairs in others); ``language`` and ``origin`` filter them.
- ``store_counts(settings, scan=True)`` counts the pairs in total and, with ``scan`` (a full scroll,
  with a progress bar on stderr when ``progress``), per language and how many carry an alignment.
Neither changes the store nor creates one: a missing embedded store is ``StoreMissingError``, one held
by a running worker ``StoreLockedError``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from webfaq_stream.domain.model import StoredPair
from webfaq_stream.settings import Settings
from webfaq_stream.store.opener import open_store, store_location


def search_pairs(settings: Settings, text: str, *, limit: int = 10, language: str | None = None,
                 origin: str | None = None) -> list[tuple[StoredPair, float]]:
    """The ``limit`` stored pairs nearest to ``text``, best first, with their similarity (the mean of its
    cosines with the question and the answer: :meth:`StoreModels.query_vector`)."""
    from webfaq_stream.embed.models import configured_models

    models = configured_models(settings)
    store = open_store(settings, models.dim, models.wide_dim, must_exist=True)
    try:
        vector = models.query_vector(text).tolist()
        return store.search(vector, limit=limit, language=language, origin=origin)
    finally:
        store.close()


@dataclass
class StoreCounts:
    """Pairs in the store; ``languages`` and ``aligned`` only after a scan."""

    location: str
    collection: str
    pairs: int
    languages: Counter[str] = field(default_factory=Counter)
    aligned: int | None = None


def store_counts(settings: Settings, *, scan: bool = True, progress: bool = False) -> StoreCounts:
    """Counts of the configured store (module docstring)."""
    from tqdm import tqdm

    store = open_store(settings, must_exist=True)
    try:
        counts = StoreCounts(store_location(settings), settings.collection, store.count())
        if scan:
            counts.aligned = 0
            pairs = store.scroll(batch_size=2000)
            for pair in tqdm(pairs, total=counts.pairs, unit="pair", desc="scanning store",
                             disable=None if progress else True, leave=False):
                counts.languages[pair.language] += 1
                counts.aligned += bool(pair.aligned)
        return counts
    finally:
        store.close()
