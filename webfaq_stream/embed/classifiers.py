"""Hugging Face ``transformers`` text-classification models, loaded from where they are installed.

``load_text_classifier(location, device=..., batch_size=..., max_length=...)`` returns a
:class:`TransformersClassifier` (a :class:`webfaq_stream.ports.TextClassifier`). ``location`` is a
model directory (``config.json``, weights, tokenizer files: what ``save_pretrained`` writes), or a
hub name already in the local Hugging Face cache: nothing is ever downloaded (the hub is set offline
before ``transformers`` is imported). WebFAQ's models: topics
``michaeldinzinger/xlm-roberta-base-qa-topic-classification``, question types
``PaDaS-Lab/nfqa-multilingual-classifier``.

Guarantees: ``classify(texts)`` returns one ``(label, score)`` per text, in order, computed in
batches of ``batch_size`` texts (padded per batch, truncated to ``max_length`` tokens); the label is
the model config's ``id2label`` name of the most probable class and the score its probability
(softmax; sigmoid for a multi-label model). ``model_id`` is ``<location>@<12 hex digits>``, the
digits a sha256 of the model's ``config.json`` and its weight files' names and sizes, so relabelling
happens when the files change, not when a worker restarts. Any failure to load (missing or broken
directory, unknown device, the ``st`` extra not installed) or to run the model is a ``ModelError``.
``torch`` and ``transformers`` are imported only here, when a model is loaded.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from webfaq_stream.errors import ModelError

#: Texts per forward pass.
DEFAULT_BATCH_SIZE = 32
#: Longest input in tokens (XLM-R's and WebFAQ's limit).
DEFAULT_MAX_LENGTH = 512
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack")
#: Files a saved tokenizer consists of (at least one must be there: without any, transformers would
#: build an empty tokenizer that maps every word to [UNK]).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                   "sentencepiece.bpe.model", "spiece.model", "tokenizer.model")


def _transformers() -> tuple[Any, Any]:
    """``(torch, transformers)`` with the hub offline; ``ModelError`` without the 'st' extra."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise ModelError("text classifiers need the 'st' extra (pip install torch==2.13.0 "
                         "'webfaq-stream[st]')") from exc
    return torch, transformers


def model_directory(location: str, transformers: Any) -> Path:
    """The directory of ``location``: itself, or the cached snapshot of a hub name."""
    path = Path(location).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelError(f"text classifier {location!r}: not a directory")
    try:
        config = transformers.utils.cached_file(location, "config.json", local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any lookup failure means: not installed here
        raise ModelError(f"text classifier {location!r}: no such directory and no cached copy of a hub "
                         "model of that name (nothing is downloaded: install the model and give its "
                         f"directory): {exc}") from None
    if config is None:
        raise ModelError(f"text classifier {location!r}: no such directory and no cached copy")
    return Path(config).parent


def fingerprint(directory: Path) -> str:
    """12 hex digits of sha256 over ``config.json`` and the weight files' names and sizes."""
    digest = hashlib.sha256()
    config = directory / "config.json"
    if not config.is_file():
        raise ModelError(f"text classifier {str(directory)!r}: no config.json")
    digest.update(config.read_bytes())
    for file in sorted(directory.iterdir()):
        if file.is_file() and file.name.endswith(_WEIGHT_SUFFIXES):
            digest.update(f"\0{file.name}\0{file.stat().st_size}".encode())
    return digest.hexdigest()[:12]


class TransformersClassifier:
    """A loaded sequence-classification model and its tokenizer (see the module contract)."""

    def __init__(self, model_id: str, model: Any, tokenizer: Any, torch: Any, device: Any,
                 batch_size: int, max_length: int) -> None:
        self.model_id = model_id
        self.labels = {int(index): str(name) for index, name in model.config.id2label.items()}
        self.multi_label = model.config.problem_type == "multi_label_classification"
        self.batch_size = batch_size
        self.max_length = max_length
        self._model = model
        self._tokenizer = tokenizer
        self._torch = torch
        self._device = device

    def classify(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """``(label, score)`` per text, computed ``batch_size`` texts at a time."""
        results: list[tuple[str, float]] = []
        for start in range(0, len(texts), self.batch_size):
            results += self._classify_batch([str(text) for text in texts[start:start + self.batch_size]])
        return results

    def _classify_batch(self, batch: list[str]) -> list[tuple[str, float]]:
        torch = self._torch
        try:
            encoded = self._tokenizer(batch, padding=True, truncation=True, max_length=self.max_length,
                                      return_tensors="pt").to(self._device)
            with torch.inference_mode():
                logits = self._model(**encoded).logits.float()
            probabilities = logits.sigmoid() if self.multi_label else logits.softmax(dim=-1)
            scores, indices = probabilities.max(dim=-1)
        except Exception as exc:  # the tokenizer and the model raise assorted errors
            raise ModelError(f"{self.model_id}: classification failed: {exc}") from exc
        if tuple(logits.shape) != (len(batch), len(self.labels)):
            raise ModelError(f"{self.model_id}: expected logits of shape {(len(batch), len(self.labels))}, "
                             f"got {tuple(logits.shape)}")
        return [(self.labels[int(index)], float(score))
                for index, score in zip(indices.tolist(), scores.tolist(), strict=True)]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.model_id!r}, labels={len(self.labels)}, "
                f"device={str(self._device)!r})")


def load_text_classifier(location: str, *, device: str = "cpu", batch_size: int = DEFAULT_BATCH_SIZE,
                         max_length: int = DEFAULT_MAX_LENGTH) -> TransformersClassifier:
    """Load the text-classification model at ``location`` onto ``device`` (``cpu``, ``cuda``,
    ``cuda:1``, ``mps``...); ``ModelError`` when it cannot be loaded (module contract)."""
    location = location.strip()
    if not location:
        raise ModelError("text classifier: empty model location")
    torch, transformers = _transformers()
    transformers.utils.logging.disable_progress_bar()
    directory = model_directory(location, transformers)
    model_id = f"{location}@{fingerprint(directory)}"
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise ModelError(f"cannot load text classifier {location!r} from {str(directory)!r}: no tokenizer "
                         f"files (one of {', '.join(TOKENIZER_FILES)})")
    try:
        target = torch.device(device)
        torch.empty(0, device=target)  # an unavailable device fails here, not in the first batch
    except (RuntimeError, AssertionError, ValueError) as exc:
        raise ModelError(f"text classifier {location!r}: device {device!r} is not usable: {exc}") from None
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        model = transformers.AutoModelForSequenceClassification.from_pretrained(str(directory),
                                                                               local_files_only=True)
    except Exception as exc:  # missing or corrupt files raise OSError, ValueError, safetensors errors...
        raise ModelError(f"cannot load text classifier {location!r} from {str(directory)!r}: {exc}") from exc
    if not getattr(model.config, "id2label", None):
        raise ModelError(f"text classifier {location!r}: its config has no id2label")
    model.to(target).eval()
    limit = getattr(tokenizer, "model_max_length", max_length) or max_length
    return TransformersClassifier(model_id, model, tokenizer, torch, target, max(1, batch_size),
                                  min(max_length, int(limit)) if limit < 10**9 else max_length)
