"""Retrieval splits and hard negatives written into a finished release (``webfaq-stream mine-negatives``).

``mine_release(release_path, ...)`` reads the release's ``data/`` and ``bitexts/``, and per language
writes ``retrieval/<lang>/`` (:mod:`webfaq_stream.negatives.splits`) and
``hard_negatives/<lang>.jsonl.gz`` (:mod:`webfaq_stream.negatives.mining`; train queries only, negatives
never from a test origin), then updates ``manifest.json`` (file list with sha256 and rows, a
``retrieval`` and a ``hard_negatives`` section) and the ``README.md`` dataset card (``configs``
``<lang>-corpus``, ``<lang>-queries``, ``<lang>-qrels``, ``<lang>-hard-negatives``).

Guarantees:
- Incremental: the release named by ``manifest["previous"]`` lends its hard-negative lines; a query
  whose key (scorer, parameters, candidate set) is unchanged is reused, one whose kept negatives are
  all still candidates is extended (only its new candidates are scored), the rest are mined. The
  result reports reused, extended and mined counts per language.
- Atomic per file: everything is written to ``<release>/.tmp-negatives-<pid>/`` first; under the
  release directory's ``ReleaseLock`` the new files are renamed into place, then the card, then the
  manifest last (each by ``os.replace``), so ``webfaq-stream release --verify`` passes before and
  after, and a crash leaves at worst an unlisted temporary directory (removed by the next run).
- Re-mining a release replaces the mined languages' files; other languages' files stay listed.
Errors: ``ReleaseError`` (not a release, unknown language, unreadable files), ``ModelError``
(scorer cannot be loaded); ``ValueError`` for bad parameters.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from webfaq_stream.embed.models import load_embedder
from webfaq_stream.errors import ModelError, ReleaseError
from webfaq_stream.negatives.mining import MiningParams, MiningStats, NearDuplicateCheck, mine_language
from webfaq_stream.negatives.scorers import EmbeddingScorer, load_scorer
from webfaq_stream.negatives.splits import (
    DEFAULT_MAX_TEST_QUERIES,
    DEFAULT_TEST_FRACTION,
    RetrievalPair,
    split_by_origin,
    write_jsonl_gz,
    write_retrieval,
)
from webfaq_stream.ports import Embedder
from webfaq_stream.release.card import CardConfig, card, dataset_card
from webfaq_stream.release.layout import ReleaseLock
from webfaq_stream.release.manifest import MANIFEST_NAME, read_manifest, sha256_of, write_manifest
from webfaq_stream.release.writer import data_file_language

log = logging.getLogger(__name__)
TMP_PREFIX = ".tmp-negatives-"
@dataclass(frozen=True)
class NegativesResult:
    """What ``mine_release`` wrote: per-language split sizes and mining counts, and the new manifest."""

    path: Path
    retrieval: dict[str, dict[str, int]]
    stats: dict[str, MiningStats]
    seconds: dict[str, float]
    manifest: dict[str, Any]


def read_language_pairs(release: Path, manifest: Mapping[str, Any], language: str) -> list[RetrievalPair]:
    """The pairs of ``language`` in the release's ``data/`` files, sorted by id."""
    files = sorted(release / rel for rel in manifest.get("files", {}) if data_file_language(rel) == language)
    columns = ["id", "origin", "question", "answer", "near_duplicate_similarity"]
    try:
        rows = [row for path in files for row in pq.read_table(path, columns=columns).to_pylist()]
    except (OSError, ValueError) as exc:
        raise ReleaseError(f"unreadable data of {language} in {release}: {exc}") from None
    return sorted((RetrievalPair(**row) for row in rows), key=lambda p: p.id)


def aligned_twins(release: Path, manifest: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Per aligned pair id: every pair connected to it through the bitexts (itself included).

    A chain eng A - deu D - fra F - eng B makes B a twin of A in A's own language, so a
    candidate is a false negative when it lies in its positive's component.
    """
    parent: dict[str, str] = {}

    def root(pid: str) -> str:
        while parent.setdefault(pid, pid) != pid:
            parent[pid] = parent[parent[pid]]
            pid = parent[pid]
        return pid

    for rel in manifest.get("files", {}):
        if rel.startswith("bitexts/") and rel.endswith(".parquet"):
            try:
                table = pq.read_table(release / rel, columns=["id1", "id2"]).to_pydict()
            except (OSError, ValueError) as exc:
                raise ReleaseError(f"unreadable bitexts {rel} in {release}: {exc}") from None
            for left, right in zip(table["id1"], table["id2"], strict=True):
                parent[root(left)] = root(right)
    components: dict[str, set[str]] = defaultdict(set)
    for pid in list(parent):
        components[root(pid)].add(pid)
    frozen = {top: frozenset(ids) for top, ids in components.items()}
    return {pid: frozen[root(pid)] for pid in parent}


def previous_lines(release: Path, manifest: Mapping[str, Any], language: str) -> dict[str, dict[str, Any]]:
    """The previous release's hard-negative lines of ``language`` by query id; empty when there are none."""
    previous_id = (manifest.get("previous") or {}).get("release_id")
    if not previous_id:
        return {}
    path = release.parent / previous_id / "hard_negatives" / f"{language}.jsonl.gz"
    lines: dict[str, dict[str, Any]] = {}
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for text in handle:
                line = json.loads(text)
                if isinstance(line, dict) and isinstance(line.get("query_id"), str):
                    lines[line["query_id"]] = line
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, EOFError) as exc:  # a damaged old release only costs the reuse
        log.warning("cannot reuse hard negatives of %s (%s): %s", previous_id, language, exc)
        return {}
    return lines


def _store_model_name(model: Mapping[str, Any]) -> str:
    """The release's store-vector model (manifests before named vectors name it ``name``)."""
    return str(model.get("store_model") or model.get("name"))


def _near_duplicate_embedder(model: Mapping[str, Any]) -> Embedder | None:
    try:
        return load_embedder(_store_model_name(model))
    except ModelError as exc:
        log.warning("release model not loadable (%s): near-duplicates judged by their published "
                    "similarity alone (conservative)", exc)
        return None


def mined_cards(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Dataset cards of the mined files: ``retrieval/README.md`` and ``hard_negatives/README.md``.

    They are separate cards because ``datasets`` reads all configs of one card with one builder
    (chosen from the first config's files): the release card's configs are Parquet, these JSON.
    Load with ``datasets.load_dataset("<release>/retrieval", "eng-corpus")`` or
    ``datasets.load_dataset("<release>/hard_negatives", "eng")``.
    """
    retrieval: Mapping[str, Any] = manifest.get("retrieval") or {}
    mined: Mapping[str, Any] = manifest.get("hard_negatives") or {}
    title = f"WebFAQ stream release {manifest['release_id']}"
    configs: list[CardConfig] = []
    for language in sorted(retrieval):
        configs += [CardConfig(f"{language}-corpus", [("corpus", f"{language}/corpus.jsonl.gz")]),
                    CardConfig(f"{language}-queries", [("queries", f"{language}/queries.jsonl.gz")]),
                    CardConfig(f"{language}-qrels", [("train", f"{language}/qrels/train.jsonl"),
                                                     ("test", f"{language}/qrels/test.jsonl")])]
    retrieval_card = card(f"{title}: retrieval splits", configs, [
        "Per language, in the layout of PaDaS-Lab/webfaq-retrieval (BEIR): `corpus.jsonl.gz` (`_id`, `title`,",
        "`text` = answer), `queries.jsonl.gz` (`_id`, `text` = question), `qrels/{train,test}.jsonl`",
        "(`query-id`, `corpus-id`, `score`; the same rows as `.tsv` for BEIR loaders). Split by origin:",
        "each test origin gives exactly one test query and no train query, so test and train never share",
        "a site.", "", "| language | corpus | train | test |", "|---|---:|---:|---:|",
        *(f"| {lang} | {v['corpus']:,} | {v['train']:,} | {v['test']:,} |" for lang, v in sorted(retrieval.items()))])
    configs = [CardConfig(language, [("train", f"{language}.jsonl.gz")]) for language in sorted(mined)]
    negatives_card = card(f"{title}: hard negatives", configs, [
        "One line per train query: `query_id`, `query`, `positive_id`, `positive`, `positive_score`,",
        "`negatives` = `[{id, text, score}]` best first. As WebFAQ 2.0: BM25's top `top_k` answers",
        "rescored with `scorer`; removed: the positive's near-duplicates and aligned twins, answers",
        "with the positive's question or answer text, test-origin answers, candidates scoring above",
        "`positive_score - margin` (likely false negatives) and easy negatives (below `min_score`,",
        "beyond the `keep` best). Scores are kept for distillation (MarginMSE: `positive_score - score`).",
        "", "| language | queries | negatives | reused | extended | scorer | top_k | margin | keep |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|",
        *(f"| {lang} | {v['queries']:,} | {v['negatives']:,} | {v['reused']:,} | {v['extended']:,} | "
          f"`{v['scorer']}` | "
          f"{v['params']['top_k']} | {v['params']['margin']} | {v['params']['keep']} |"
          for lang, v in sorted(mined.items()))])
    return {"retrieval/README.md": retrieval_card, "hard_negatives/README.md": negatives_card}


def release_card(manifest: Mapping[str, Any]) -> str:
    """The release's dataset card regenerated from its manifest, with a section on the mined files."""
    data_files: dict[str, list[str]] = defaultdict(list)
    bitext_files: dict[str, str] = {}
    for rel in manifest.get("files", {}):
        language = data_file_language(rel)
        if language is not None:
            data_files[language].append(rel.removeprefix("data/"))
        elif rel.startswith("bitexts/") and rel.endswith(".parquet"):
            name = rel.removeprefix("bitexts/")
            bitext_files[name.removesuffix(".parquet")] = name
    languages = ", ".join(sorted(manifest.get("retrieval") or {}))
    section = ["## Retrieval splits and hard negatives", "",
               f"Mined for {languages} by `webfaq-stream mine-negatives`; described by their own dataset cards",
               "(`datasets` loads one card's configs with one builder; these files are JSON):",
               "`retrieval/<lang>/` (PaDaS-Lab/webfaq-retrieval layout, split by origin) and",
               "`hard_negatives/<lang>.jsonl.gz` (BM25 top candidates rescored, false negatives removed,",
               "scores kept).", "", "```python",
               'corpus = datasets.load_dataset("<release>/retrieval", "eng-corpus", split="corpus")',
               'qrels = datasets.load_dataset("<release>/retrieval", "eng-qrels", split="test")',
               'negatives = datasets.load_dataset("<release>/hard_negatives", "eng", split="train")', "```",
               "", "```sql", "SELECT * FROM read_json('hard_negatives/eng.jsonl.gz') LIMIT 5;", "```"]
    return dataset_card(manifest, data_files, bitext_files, extra_sections=section)


def _remove_stale_temps(release: Path, keep: Path) -> None:
    """Remove temporary directories of mining runs whose process is gone."""
    for path in release.glob(TMP_PREFIX + "*"):
        if path == keep:
            continue
        try:
            os.kill(int(path.name.removeprefix(TMP_PREFIX)), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass


def _replace_file(temp: Path, target: Path) -> None:
    with temp.open("rb") as handle:
        os.fsync(handle.fileno())
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, target)


def _install(release: Path, temp: Path, rows: Mapping[str, int], sections: Mapping[str, Mapping[str, Any]],
             lock_timeout_s: float) -> dict[str, Any]:
    """Move the mined files into ``release``, then the card, then the manifest (module docstring)."""
    languages = set(sections["retrieval"])
    with ReleaseLock(release.parent, timeout_s=lock_timeout_s):
        _remove_stale_temps(release, temp)
        manifest = read_manifest(release)
        files = {rel: entry for rel, entry in manifest.get("files", {}).items()
                 if not any(rel.startswith(f"retrieval/{lang}/") or rel == f"hard_negatives/{lang}.jsonl.gz"
                            for lang in languages)}
        for rel in sorted(rows):
            path = temp / rel
            files[rel] = {"bytes": path.stat().st_size, "sha256": sha256_of(path), "rows": rows[rel]}
            _replace_file(path, release / rel)
        for language in sorted(languages):  # files of an earlier mining that this one did not write
            old_dir = release / "retrieval" / language
            for path in sorted(old_dir.rglob("*")) if old_dir.is_dir() else []:
                if path.is_file() and path.relative_to(release).as_posix() not in rows:
                    path.unlink()
        for key, value in sections.items():
            manifest[key] = dict(sorted({**(manifest.get(key) or {}), **value}.items()))
        manifest["files"] = files
        cards = {**mined_cards(manifest), "README.md": release_card(manifest)}
        for rel, text in cards.items():
            (temp / rel).parent.mkdir(parents=True, exist_ok=True)
            (temp / rel).write_text(text)
            files[rel] = {"bytes": (temp / rel).stat().st_size, "sha256": sha256_of(temp / rel)}
        manifest["files"] = dict(sorted(files.items()))
        for rel in cards:
            _replace_file(temp / rel, release / rel)
        _replace_file(write_manifest(temp, manifest), release / MANIFEST_NAME)
        shutil.rmtree(temp, ignore_errors=True)
    return manifest


def mine_release(release: Path, *, languages: Sequence[str] | None = None, scorer: str | None = None,
                 params: MiningParams | None = None, test_fraction: float = DEFAULT_TEST_FRACTION,
                 max_test_queries: int = DEFAULT_MAX_TEST_QUERIES, reuse: bool = True,
                 lock_timeout_s: float = 60.0) -> NegativesResult:
    """Write retrieval splits and hard negatives into ``release`` (module docstring).

    ``scorer``: a :func:`~webfaq_stream.negatives.scorers.load_scorer` spec; default the release's
    embedding model. ``languages``: default every language of the release.
    """
    release = Path(release)
    params = params or MiningParams()
    manifest = read_manifest(release)
    available = sorted(manifest.get("counts", {}))
    chosen = sorted(set(languages)) if languages else available
    unknown = [lang for lang in chosen if lang not in available]
    if unknown:
        raise ReleaseError(f"no such language in {release.name}: {', '.join(unknown)} "
                           f"(has {', '.join(available) or 'none'})")
    model = manifest.get("model") or {}
    embedder = _near_duplicate_embedder(model)
    spec = scorer or _store_model_name(model)
    loaded_scorer = load_scorer(spec, embedder=embedder)
    vectors = (loaded_scorer if isinstance(loaded_scorer, EmbeddingScorer) and loaded_scorer.embedder is embedder
               else EmbeddingScorer(_store_model_name(model), embedder) if embedder is not None else None)
    threshold = model.get("near_duplicate_threshold")
    near_duplicates = NearDuplicateCheck(float(threshold) if threshold is not None else 1.0, vectors)
    twins = aligned_twins(release, manifest)
    temp = release / f"{TMP_PREFIX}{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    rows: dict[str, int] = {}
    retrieval: dict[str, dict[str, Any]] = {}
    mined: dict[str, dict[str, Any]] = {}
    stats: dict[str, MiningStats] = {}
    seconds: dict[str, float] = {}
    previous_id = (manifest.get("previous") or {}).get("release_id")
    try:
        for language in chosen:
            started = time.monotonic()
            pairs = read_language_pairs(release, manifest, language)
            split = split_by_origin(pairs, test_fraction=test_fraction, max_test_queries=max_test_queries)
            rows.update(write_retrieval(temp, language, pairs, split))
            lines, stats[language] = mine_language(
                pairs, split.train, scorer=loaded_scorer, near_duplicates=near_duplicates, twins=twins,
                params=params, excluded_origins=split.test_origins,
                previous=previous_lines(release, manifest, language) if reuse else None)
            rel = f"hard_negatives/{language}.jsonl.gz"
            rows[rel] = write_jsonl_gz(temp / rel, lines)
            seconds[language] = time.monotonic() - started
            retrieval[language] = {"corpus": len(pairs), "train": len(split.train), "test": len(split.test),
                                   "test_origins": len(split.test_origins), "test_fraction": test_fraction}
            mined[language] = {**stats[language].as_dict(), "scorer": loaded_scorer.name,
                               "params": params.as_dict(), "reused_from": previous_id if reuse else None,
                               "seconds": round(seconds[language], 3)}
        new_manifest = _install(release, temp, rows, {"retrieval": retrieval, "hard_negatives": mined},
                                lock_timeout_s)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return NegativesResult(path=release, retrieval=retrieval, stats=stats, seconds=seconds,
                           manifest=new_manifest)
