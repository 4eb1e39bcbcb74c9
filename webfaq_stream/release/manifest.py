"""``manifest.json`` of a release: what it contains, where it was cut, how to verify it.

Contract: ``build_manifest`` returns a JSON-ready dict with the release id, the cutoff (time,
per-partition offsets fully in the store, worker batch sequence), the consistency level, counts per
language and language pair, every file with its size, rows and sha256, the model and its
thresholds, the labels (``labels``: per text classifier the model the workers ran or ``null`` with
the reason, and the labelled pairs per model; the question-word type's covered languages and pairs
per class), the previous release with what changed since, and what was forgotten since (tombstones
recorded, and the previous release's pair ids they removed, per language). Keys are written sorted, so two
releases of an unchanged store differ only in ``release_id``, ``created``, ``cutoff.time``,
``previous``, ``timings`` and the ``webfaq.duckdb`` checksum (DuckDB files are not
byte-reproducible; the Parquet files are). ``read_manifest`` loads one, raising
``ReleaseError`` on a missing or corrupt file.

``webfaq-stream mine-negatives`` later adds ``retrieval`` (per language: corpus, train and test
query counts, test origins) and ``hard_negatives`` (per language: queries, negatives, reused,
extended and mined lines, drops by reason, scorer and parameters) sections and lists its files
(``retrieval/``, ``hard_negatives/``) with their sha256 (``webfaq_stream.negatives.release``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from webfaq_stream import __version__
from webfaq_stream.errors import ReleaseError

MANIFEST_NAME = "manifest.json"
#: Store meta document the manifest's ``labels`` report: per text classifier (``topic``,
#: ``question_type``) ``{"model": id}`` or ``{"model": None, "reason": ...}``, written by the worker.
LABELLERS_KEY = "labellers"
FORMAT_VERSION = 1
LICENSE_NOTE = (
    "Questions and answers were published by the listed websites as schema.org FAQPage markup; "
    "their rights remain with those publishers. The compilation is released for research under "
    "CC-BY-4.0, as WebFAQ. Removal requests: open an issue naming the URL."
)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_entries(root: Path, rows: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """``{relative path: {bytes, sha256[, rows]}}`` for every file under ``root`` (sorted)."""
    entries: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel == MANIFEST_NAME:
            continue
        entry: dict[str, Any] = {"bytes": path.stat().st_size, "sha256": sha256_of(path)}
        if rel in rows:
            entry["rows"] = rows[rel]
        entries[rel] = entry
    return entries


def build_manifest(*, release_id: str, created: str, cutoff: Mapping[str, Any], consistency: str,
                   counts: Mapping[str, int], bitext_counts: Mapping[str, int],
                   files: Mapping[str, Any], model: Mapping[str, Any], labels: Mapping[str, Any],
                   previous: Mapping[str, Any] | None, timings: Mapping[str, float],
                   forgotten: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "release_id": release_id,
        "created": created,
        "software": {"name": "webfaq-stream", "version": __version__},
        "cutoff": dict(cutoff),
        "consistency": consistency,
        "pairs": sum(counts.values()),
        "bitexts": sum(bitext_counts.values()),
        "counts": dict(sorted(counts.items())),
        "bitext_counts": dict(sorted(bitext_counts.items())),
        "model": dict(model),
        "labels": dict(labels),
        "license": LICENSE_NOTE,
        "previous": dict(previous) if previous else None,
        "forgotten": dict(forgotten or {"tombstones": {}, "removed": {"pairs": 0, "by_language": {}}}),
        "files": dict(files),
        "timings": {k: round(v, 6) for k, v in timings.items()},
    }


def write_manifest(root: Path, manifest: Mapping[str, Any]) -> Path:
    path = root / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return path


def read_manifest(release_path: Path) -> dict[str, Any]:
    path = release_path / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReleaseError(f"no manifest in {release_path}") from None
    except (OSError, ValueError) as exc:
        raise ReleaseError(f"unreadable manifest {path}: {exc}") from None
    if not isinstance(manifest, dict) or "release_id" not in manifest:
        raise ReleaseError(f"not a release manifest: {path}")
    return manifest


def verify_files(release_path: Path) -> list[str]:
    """Files whose size or sha256 differ from the manifest (or are missing); empty when intact."""
    manifest = read_manifest(release_path)
    bad = []
    for rel, entry in manifest.get("files", {}).items():
        path = release_path / rel
        if not path.is_file() or path.stat().st_size != entry.get("bytes") \
                or sha256_of(path) != entry.get("sha256"):
            bad.append(rel)
    return bad
