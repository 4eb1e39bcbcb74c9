"""What changed between two releases, computed by DuckDB over their ``data/`` Parquet files.

Contract: ``diff_releases(old, new)`` (``old`` a finished release, ``new`` any release directory,
finished or being written) returns ``{"release_id", "added", "updated", "removed",
"by_language": {lang: {added, updated, removed}}}`` (``release_id`` is the old one). A pair is
*added* when its id is only in ``new``, *removed* when only in ``old``, *updated* when any
column differs (``last_seen``, url, near-duplicate similarity...). Memory is bounded by DuckDB
(a hash join on id), not by Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from webfaq_stream.errors import ReleaseError
from webfaq_stream.release.manifest import read_manifest
from webfaq_stream.release.writer import DATA_SCHEMA

_COMPARED = [name for name in DATA_SCHEMA.names if name != "id"]


def _data_view(release_path: Path) -> str:
    files = sorted(str(p) for p in (release_path / "data").glob("*.parquet"))
    if not files:
        return ("SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS language, NULL::UBIGINT AS h "
                "WHERE false")
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    return (f"SELECT id, regexp_extract(filename, '([^/]+?)(-[0-9]{{5}})?\\.parquet$', 1) AS language, "
            f"hash({', '.join(_COMPARED)}) AS h FROM read_parquet([{listed}], filename=true)")


def diff_releases(old: Path, new: Path, *, memory_limit: str = "512MB") -> dict[str, Any]:
    """Added/updated/removed pairs from release ``old`` to release ``new`` (see module doc)."""
    old_id = read_manifest(old)["release_id"]
    connection = duckdb.connect(config={"memory_limit": memory_limit})
    try:
        rows = connection.execute(f"""
            WITH a AS ({_data_view(old)}), b AS ({_data_view(new)})
            SELECT coalesce(b.language, a.language) AS language,
                   count(*) FILTER (WHERE a.id IS NULL) AS added,
                   count(*) FILTER (WHERE a.id IS NOT NULL AND b.id IS NOT NULL AND a.h <> b.h) AS updated,
                   count(*) FILTER (WHERE b.id IS NULL) AS removed
            FROM a FULL OUTER JOIN b ON a.id = b.id
            GROUP BY ALL ORDER BY language""").fetchall()
    except duckdb.Error as exc:
        raise ReleaseError(f"cannot compare {old} and {new}: {exc}") from None
    finally:
        connection.close()
    by_language = {language: {"added": a, "updated": u, "removed": r}
                   for language, a, u, r in rows if a or u or r}
    return {
        "release_id": old_id,
        "added": sum(v["added"] for v in by_language.values()),
        "updated": sum(v["updated"] for v in by_language.values()),
        "removed": sum(v["removed"] for v in by_language.values()),
        "by_language": by_language,
    }


def format_diff(diff: dict[str, Any], new_id: str) -> str:
    """A plain-text table of a diff, one line per language and a total."""
    lines = [f"{diff['release_id']} -> {new_id}", (f"{'language':<10} {'added':>10} {'updated':>10} "
             f"{'removed':>10}")]
    for language, v in sorted(diff["by_language"].items()):
        lines.append(f"{language:<10} {v['added']:>10,} {v['updated']:>10,} {v['removed']:>10,}")
    lines.append(f"{'total':<10} {diff['added']:>10,} {diff['updated']:>10,} {diff['removed']:>10,}")
    return "\n".join(lines)
