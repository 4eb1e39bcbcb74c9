"""Streaming Parquet writers for a release's ``data/`` and ``bitexts/`` files, and ``webfaq.duckdb``.

Contract:
- ``DataWriter.add(pair)`` takes pairs in ascending id order (``ReleaseError`` otherwise) and
  appends them to ``data/<lang>-NNNNN.parquet`` parts of at most ``part_rows`` rows, buffering at
  most ``ROW_GROUP_ROWS`` rows per language, so memory stays flat however large the store is.
  ``close()`` renames a language's only part to ``data/<lang>.parquet`` and returns rows per file.
- ``write_bitexts`` writes one ``bitexts/<l1>-<l2>.parquet`` per language pair, rows as given.
- Files are byte-identical for identical rows: fixed schema, compression, row-group size and
  writer version, and no time or host in the metadata.
- ``build_duckdb`` creates tables ``data`` (the data columns plus ``language``) and ``bitexts``
  from the Parquet files with ``CREATE TABLE ... AS SELECT ... FROM read_parquet(...)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from .exceptions import ReleaseError
from .model import StoredPair

DATA_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("origin", pa.string()),
    ("url", pa.string()),
    ("question", pa.string()),
    ("answer", pa.string()),
    ("title", pa.string()),
    ("description", pa.string()),
    ("language_score", pa.float64()),
    ("near_duplicate_similarity", pa.float64()),
    ("first_seen", pa.string()),
    ("last_seen", pa.string()),
])

BITEXT_SCHEMA = pa.schema([
    ("language1", pa.string()),
    ("language2", pa.string()),
    ("origin", pa.string()),
    ("similarity", pa.float64()),
    ("id1", pa.string()),
    ("id2", pa.string()),
    ("question1", pa.string()),
    ("question2", pa.string()),
    ("answer1", pa.string()),
    ("answer2", pa.string()),
    ("url1", pa.string()),
    ("url2", pa.string()),
])

ROW_GROUP_ROWS = 10_000
_WRITER_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "version": "2.6",
    "data_page_version": "1.0",
    "write_statistics": True,
    "use_dictionary": ["origin", "language1", "language2"],
    "store_schema": False,
}
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(?:_[A-Za-z0-9]{1,8})*$")
_DATA_FILE_RE = re.compile(r"^data/([^/]+?)(?:-\d{5})?\.parquet$")


def safe_language(language: str | None) -> str:
    """A language code usable in a file name (no ``-``); anything else becomes ``und``."""
    if language and _LANGUAGE_RE.match(language):
        return language
    return "und"


def data_file_language(relative_path: str) -> str | None:
    """The language of ``data/<lang>.parquet`` or ``data/<lang>-NNNNN.parquet``; else ``None``."""
    match = _DATA_FILE_RE.match(relative_path)
    return match.group(1) if match else None


class _LanguageParts:
    """The open part files of one language."""

    def __init__(self, data_dir: Path, language: str, part_rows: int) -> None:
        self.data_dir = data_dir
        self.language = language
        self.part_rows = part_rows
        self.buffer: dict[str, list[Any]] = {name: [] for name in DATA_SCHEMA.names}
        self.buffered = 0
        self.part_index = 0
        self.part_written = 0
        self.writer: pq.ParquetWriter | None = None
        self.files: dict[str, int] = {}

    def part_path(self, index: int) -> Path:
        return self.data_dir / f"{self.language}-{index:05d}.parquet"

    def add(self, row: Sequence[Any]) -> None:
        for name, value in zip(DATA_SCHEMA.names, row):
            self.buffer[name].append(value)
        self.buffered += 1
        if self.buffered >= ROW_GROUP_ROWS or self.part_written + self.buffered >= self.part_rows:
            self.flush()

    def flush(self) -> None:
        if not self.buffered:
            return
        if self.writer is None:
            path = self.part_path(self.part_index)
            self.writer = pq.ParquetWriter(path, DATA_SCHEMA, **_WRITER_OPTIONS)
            self.files[path.name] = 0
        table = pa.Table.from_pydict(self.buffer, schema=DATA_SCHEMA)
        self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.files[self.part_path(self.part_index).name] += self.buffered
        self.part_written += self.buffered
        self.buffer = {name: [] for name in DATA_SCHEMA.names}
        self.buffered = 0
        if self.part_written >= self.part_rows:
            self.writer.close()
            self.writer = None
            self.part_index += 1
            self.part_written = 0

    def close(self) -> dict[str, int]:
        self.flush()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if len(self.files) == 1:
            only = self.part_path(0)
            single = self.data_dir / f"{self.language}.parquet"
            only.rename(single)
            self.files = {single.name: self.files[only.name]}
        return self.files


class DataWriter:
    """Writes ``data/`` from pairs streamed in ascending id order (see module docstring)."""

    def __init__(self, release_root: Path, part_rows: int) -> None:
        self.data_dir = release_root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.part_rows = part_rows
        self._languages: dict[str, _LanguageParts] = {}
        self._last_id = ""
        self.rows = 0

    def add(self, pair: StoredPair) -> str:
        """Append one pair; returns the language file stem it went to."""
        if pair.id <= self._last_id:
            raise ReleaseError(f"pairs must arrive in ascending id order: {pair.id!r} after {self._last_id!r}")
        self._last_id = pair.id
        language = safe_language(pair.language)
        parts = self._languages.get(language)
        if parts is None:
            parts = self._languages[language] = _LanguageParts(self.data_dir, language, self.part_rows)
        parts.add(data_row(pair))
        self.rows += 1
        return language

    def close(self) -> dict[str, dict[str, int]]:
        """Finish every file; returns ``{language: {file name: rows}}``."""
        return {language: parts.close() for language, parts in sorted(self._languages.items())}


def data_row(pair: StoredPair) -> tuple[Any, ...]:
    """The data columns of one pair, in ``DATA_SCHEMA`` order; missing text becomes ``""``."""
    return (
        pair.id, pair.origin or "", pair.url or "", pair.question or "", pair.answer or "",
        pair.title or "", pair.description or "", _float_or_none(pair.language_score),
        _float_or_none(pair.near_duplicate_similarity), pair.first_seen or "", pair.last_seen or "",
    )


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def write_bitexts(release_root: Path,
                  rows_by_pair: Mapping[tuple[str, str], Iterable[Mapping[str, Any]]]) -> dict[str, int]:
    """Write ``bitexts/<l1>-<l2>.parquet`` for each language pair; returns ``{file name: rows}``."""
    out_dir = release_root / "bitexts"
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, int] = {}
    for (language1, language2), rows in sorted(rows_by_pair.items()):
        rows = list(rows)
        if not rows:
            continue
        columns = {name: [row.get(name) for row in rows] for name in BITEXT_SCHEMA.names}
        table = pa.Table.from_pydict(columns, schema=BITEXT_SCHEMA)
        name = f"{safe_language(language1)}-{safe_language(language2)}.parquet"
        pq.write_table(table, out_dir / name, row_group_size=ROW_GROUP_ROWS, **_WRITER_OPTIONS)
        files[name] = len(rows)
    return files


def build_duckdb(release_root: Path, data_files: Mapping[str, Iterable[str]],
                 bitext_files: Iterable[str], *, memory_limit: str = "1GB") -> Path:
    """Create ``webfaq.duckdb`` with tables ``data`` and ``bitexts`` from the Parquet files."""
    path = release_root / "webfaq.duckdb"
    connection = duckdb.connect(str(path), config={"memory_limit": memory_limit})
    try:
        columns = ", ".join(f"{name} {_duck_type(field.type)}" for name, field in
                            zip(DATA_SCHEMA.names, DATA_SCHEMA))
        connection.execute(f"CREATE TABLE data (language VARCHAR, {columns})")
        for language, names in sorted(data_files.items()):
            files = [str(release_root / "data" / name) for name in sorted(names)]
            connection.execute("INSERT INTO data SELECT ?::VARCHAR AS language, * FROM read_parquet(?)",
                               [language, files])
        bitext_columns = ", ".join(f"{name} {_duck_type(field.type)}" for name, field in
                                   zip(BITEXT_SCHEMA.names, BITEXT_SCHEMA))
        connection.execute(f"CREATE TABLE bitexts ({bitext_columns})")
        files = [str(release_root / "bitexts" / name) for name in sorted(bitext_files)]
        if files:
            connection.execute("INSERT INTO bitexts SELECT * FROM read_parquet(?)", [files])
        connection.execute("CHECKPOINT")
    finally:
        connection.close()
    return path


def _duck_type(arrow_type: pa.DataType) -> str:
    return "DOUBLE" if pa.types.is_floating(arrow_type) else "VARCHAR"
