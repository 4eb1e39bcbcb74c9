"""What changed between two releases, computed by DuckDB over their ``data/`` Parquet files.

Contract: ``diff_releases(old, new)`` (``old`` a finished release, ``new`` any release directory,
finished or being written) returns ``{"release_id", "added", "updated", "removed",
"by_language": {lang: {added, updated, removed}}}`` (``release_id`` is the old one). A pair is
*added* when its id is only in ``new``, *removed* when only in ``old``, *updated* when any
column both releases have differs (``last_seen``, url, near-duplicate similarity...; times compared
as UTC instants, whether a release typed them or kept text). Memory is bounded by DuckDB (a hash
join on id), not by Python.

``covered_ids(release, origins, urls)`` lists, per language, the ids of a release's pairs of those
origins or URLs (what a forget removes from the next release).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from webfaq_stream.errors import ReleaseError
from webfaq_stream.release.manifest import read_manifest
from webfaq_stream.release.writer import DATA_SCHEMA

_TIMES = {"first_seen", "last_seen"}
_LANGUAGE = "regexp_extract(filename, '([^/]+?)(-[0-9]{5})?\\.parquet$', 1)"


def _files(release_path: Path) -> str | None:
    files = sorted(str(p) for p in (release_path / "data").glob("*.parquet"))
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]" if files else None


def _columns(connection: duckdb.DuckDBPyConnection, release_path: Path) -> list[str]:
    listed = _files(release_path)
    if listed is None:
        return []
    return [row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM read_parquet({listed})").fetchall()]


def _data_view(release_path: Path, compared: list[str]) -> str:
    listed = _files(release_path)
    if listed is None:
        return "SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS language, NULL::UBIGINT AS h WHERE false"
    values = ", ".join(f"CAST({name} AS TIMESTAMPTZ)" if name in _TIMES else name for name in compared) or "0"
    return f"SELECT id, {_LANGUAGE} AS language, hash({values}) AS h FROM read_parquet({listed}, filename=true)"


def diff_releases(old: Path, new: Path, *, memory_limit: str = "512MB") -> dict[str, Any]:
    """Added/updated/removed pairs from release ``old`` to release ``new`` (see module doc)."""
    old_id = read_manifest(old)["release_id"]
    connection = duckdb.connect(config={"memory_limit": memory_limit})
    try:
        shared = set(_columns(connection, old)) & set(_columns(connection, new))
        compared = [name for name in DATA_SCHEMA.names if name != "id" and name in shared]
        rows = connection.execute(f"""
            WITH a AS ({_data_view(old, compared)}), b AS ({_data_view(new, compared)})
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


def covered_ids(release_path: Path, origins: Iterable[str], urls: Iterable[str]) -> dict[str, list[str]]:
    """Ids (sorted) per language of the pairs of ``release_path`` whose origin or url is given."""
    listed = _files(release_path)
    origins, urls = sorted(set(origins)), sorted(set(urls))
    if listed is None or not (origins or urls):
        return {}
    connection = duckdb.connect()
    try:
        rows = connection.execute(
            f"SELECT {_LANGUAGE} AS language, id FROM read_parquet({listed}, filename=true) "
            "WHERE list_contains(?, origin) OR list_contains(?, url) ORDER BY language, id",
            [origins, urls]).fetchall()
    except duckdb.Error as exc:
        raise ReleaseError(f"cannot read {release_path}: {exc}") from None
    finally:
        connection.close()
    out: dict[str, list[str]] = {}
    for language, pair_id in rows:
        out.setdefault(language, []).append(pair_id)
    return out


def format_diff(diff: dict[str, Any], new_id: str) -> str:
    """A plain-text table of a diff, one line per language and a total."""
    lines = [f"{diff['release_id']} -> {new_id}", (f"{'language':<10} {'added':>10} {'updated':>10} "
             f"{'removed':>10}")]
    for language, v in sorted(diff["by_language"].items()):
        lines.append(f"{language:<10} {v['added']:>10,} {v['updated']:>10,} {v['removed']:>10,}")
    lines.append(f"{'total':<10} {diff['added']:>10,} {diff['updated']:>10,} {diff['removed']:>10,}")
    return "\n".join(lines)
