"""Streaming Parquet writers for a release's ``data/`` and ``bitexts/`` files, and ``webfaq.duckdb``.

Contract:
- ``DataWriter.add_page(payloads)`` takes pages of pair payloads in ascending id order
  (``ReleaseError`` otherwise) and appends them to ``data/<lang>-NNNNN.parquet`` parts of at most
  ``part_rows`` rows in row groups of ``ROW_GROUP_ROWS`` (the last of a part or file may be
  shorter), whatever the page sizes; it buffers less than one row group per language, so memory
  stays flat however large the store is.
  ``close()`` renames a language's only part to ``data/<lang>.parquet`` and returns rows per file.
- ``write_bitexts`` writes one ``bitexts/<l1>-<l2>.parquet`` per language pair, rows as given.
- Files are byte-identical for identical rows: fixed schema, compression, row-group size and
  writer version, and no time or host in the metadata.
- ``build_database`` builds ``webfaq.duckdb`` with tables ``data`` (the data columns plus
  ``language``) and ``bitexts`` from the finished Parquet files.
- Types: ``first_seen`` / ``last_seen`` are UTC timestamps (``timestamp[us, tz=UTC]`` in Parquet,
  ``TIMESTAMPTZ`` in DuckDB), parsed from the store's ISO-8601 strings (a value that is not one is
  null); the provenance columns (``record_id``, ``source_topic``, ``source_partition``,
  ``source_offset``) are null where the store does not know them (the dataset card lists every
  column with its types).
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from webfaq_stream.domain.model import StoredPair
from webfaq_stream.errors import ReleaseError

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
    ("semantic_similarity_score", pa.float64()),
    ("first_seen", pa.timestamp("us", tz="UTC")),
    ("last_seen", pa.timestamp("us", tz="UTC")),
    ("question_word_type", pa.string()),
    ("topic", pa.string()),
    ("topic_score", pa.float64()),
    ("question_type", pa.string()),
    ("question_type_score", pa.float64()),
    ("record_id", pa.string()),
    ("source_topic", pa.string()),
    ("source_partition", pa.int32()),
    ("source_offset", pa.int64()),
])
#: Data columns that stay null when a pair has no value (labels, provenance); other missing text becomes "".
NULLABLE_COLUMNS = frozenset({"question_word_type", "topic", "question_type", "record_id", "source_topic",
                              "source_partition", "source_offset"})
#: Data columns kept as ISO-8601 strings in the store and typed as UTC timestamps in releases.
TIMESTAMP_COLUMNS = ("first_seen", "last_seen")

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

ROW_GROUP_ROWS = 5_000
_WRITER_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "version": "2.6",
    "data_page_version": "1.0",
    "write_statistics": True,
    "use_dictionary": ["origin", "language1", "language2", "question_word_type", "topic", "question_type"],
    "store_schema": False,
}
#: Pair payloads as the store keeps them: the data columns with times as ISO-8601 text, and the language.
_PAYLOAD_ROW = pa.struct([*(pa.field(f.name, pa.string()) if f.name in TIMESTAMP_COLUMNS else f for f in DATA_SCHEMA),
                          pa.field("language", pa.string())])
_DUCKDB_ZSTD_COLUMNS = frozenset({"url", "question", "answer", "title", "description",
                                  "question1", "question2", "answer1", "answer2", "url1", "url2"})
_DATA_COLUMNS = tuple((f.name, f.type) for f in _PAYLOAD_ROW)[:-1]
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(?:_[A-Za-z0-9]{1,8})*$")
_DATA_FILE_RE = re.compile(r"^data/([^/]+?)(?:-\d{5})?\.parquet$")


@functools.lru_cache(maxsize=4096)
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
    """The open part files of one language; rows buffered as Arrow tables until a row group is full."""

    def __init__(self, data_dir: Path, language: str, part_rows: int) -> None:
        self.data_dir = data_dir
        self.language = language
        self.part_rows = part_rows
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.part_index = 0
        self.part_written = 0
        self.writer: pq.ParquetWriter | None = None
        self.files: dict[str, int] = {}

    def part_path(self, index: int) -> Path:
        return self.data_dir / f"{self.language}-{index:05d}.parquet"

    def room(self) -> int:
        """Rows of the next row group: a full one, or what is left of the current part."""
        return min(ROW_GROUP_ROWS, self.part_rows - self.part_written)

    def add(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.pending_rows += table.num_rows
        while self.pending_rows >= self.room():
            self.write(self.room())

    def write(self, rows: int) -> None:
        """Write the first ``rows`` pending rows as one row group (layout independent of page sizes)."""
        buffered = pa.concat_tables(self.pending)  # chunks of the pages' own tables, no copy
        table = buffered.slice(0, rows).combine_chunks()  # one contiguous row group: the same bytes whatever the pages
        # The rest stays a slice of the last pages' tables (less than a page per language), not of a copy.
        self.pending = [buffered.slice(rows)] if rows < buffered.num_rows else []
        self.pending_rows -= rows
        if self.writer is None:
            path = self.part_path(self.part_index)
            self.writer = pq.ParquetWriter(path, DATA_SCHEMA, **_WRITER_OPTIONS)
            self.files[path.name] = 0
        self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.files[self.part_path(self.part_index).name] += rows
        self.part_written += rows
        if self.part_written >= self.part_rows:
            self.writer.close()
            self.writer = None
            self.part_index += 1
            self.part_written = 0

    def close(self) -> dict[str, int]:
        if self.pending_rows:
            self.write(self.pending_rows)
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
    """Writes ``data/`` from pages of pair payloads in ascending id order (see module docstring)."""

    def __init__(self, release_root: Path, part_rows: int) -> None:
        self.data_dir = release_root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.part_rows = part_rows
        self._languages: dict[str, _LanguageParts] = {}
        self._last_id = ""
        self.rows = 0

    def add_page(self, payloads: Sequence[Mapping[str, Any]]) -> None:
        """Append a page of pair payloads (``StoredPair.payload()`` keys), ids ascending across pages."""
        if not payloads:
            return
        ids = [payload["id"] for payload in payloads]
        if not all(isinstance(i, str) for i in ids) or not (
                self._last_id < ids[0] and all(map(operator.lt, ids, itertools.islice(ids, 1, None)))):
            raise ReleaseError(f"pairs must arrive in ascending id order (page of {len(ids)} after "
                               f"{self._last_id!r})")
        self._last_id = ids[-1]
        for language, table in split_by_language(payload_rows(payloads)).items():
            parts = self._languages.get(language)
            if parts is None:
                parts = self._languages[language] = _LanguageParts(self.data_dir, language, self.part_rows)
            parts.add(table)
        self.rows += len(payloads)

    def close(self) -> dict[str, dict[str, int]]:
        """Finish every file; returns ``{language: {file name: rows}}``."""
        return {language: parts.close() for language, parts in sorted(self._languages.items())}


def data_columns(payloads: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """The payload columns (``DATA_SCHEMA`` order, times as text) of pair payloads: missing text
    becomes ``""`` (``None`` in :data:`NULLABLE_COLUMNS`: a value that is not a string there is
    ``None`` too), a number that is not one ``None``."""
    columns: list[list[Any]] = []
    for name, kind in _DATA_COLUMNS:
        values = [payload.get(name) for payload in payloads]
        if pa.types.is_floating(kind):
            columns.append([v if v.__class__ is float else _float_or_none(v) for v in values])
        elif pa.types.is_integer(kind):
            columns.append([v if v.__class__ is int else _int_or_none(v) for v in values])
        elif name in NULLABLE_COLUMNS:
            columns.append([v if isinstance(v, str) else None for v in values])
        else:
            columns.append([v or "" for v in values])
    return columns


def payload_rows(payloads: Sequence[Mapping[str, Any]]) -> pa.StructArray:
    """Pair payloads as an Arrow struct array of ``DATA_SCHEMA`` plus ``language``, in one C++ pass.

    A page holding a value of an unexpected type is normalised column by column (``data_columns``);
    a value that still does not fit is a ``ReleaseError``.
    """
    try:
        return pa.array(payloads, type=_PAYLOAD_ROW)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    languages = [language if isinstance(language := payload.get("language"), str) else None
                 for payload in payloads]
    try:
        arrays = [pa.array(values, type=kind) for values, (_, kind) in zip(data_columns(payloads), _DATA_COLUMNS)]
        return pa.StructArray.from_arrays([*arrays, pa.array(languages, type=pa.string())],
                                          fields=list(_PAYLOAD_ROW))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ReleaseError(f"a stored pair has a malformed field: {exc}") from None


def utc_timestamps(texts: pa.Array) -> pa.Array:
    """ISO-8601 texts (``YYYY-MM-DDTHH:MM:SS`` with ``Z`` or an offset, or a date alone) as UTC
    timestamps; anything else is null."""
    moments = pc.strptime(texts, format="%Y-%m-%dT%H:%M:%S%z", unit="us", error_is_null=True)
    days = pc.strptime(texts, format="%Y-%m-%d", unit="us", error_is_null=True)
    return pc.coalesce(moments, days.cast(pa.timestamp("us", tz="UTC")))


def split_by_language(rows: pa.StructArray) -> dict[str, pa.Table]:
    """``DATA_SCHEMA`` tables per file language (``safe_language``), rows in their given order;
    missing text becomes ``""`` (null in :data:`NULLABLE_COLUMNS`), times are typed."""
    *columns, language = rows.flatten()
    columns = [utc_timestamps(column) if field.name in TIMESTAMP_COLUMNS
               else pc.fill_null(column, "") if pa.types.is_string(column.type) and field.name not in NULLABLE_COLUMNS
               else column for column, field in zip(columns, DATA_SCHEMA)]
    table = pa.Table.from_arrays(columns, schema=DATA_SCHEMA)
    encoded = pc.fill_null(language, "").dictionary_encode()
    safe = [safe_language(value) for value in encoded.dictionary.to_pylist()]
    if len(set(safe)) == 1:
        return {safe[0]: table}
    names = sorted(set(safe))
    per_row = pc.take(pa.array([names.index(name) for name in safe], type=pa.int32()), encoded.indices)
    return {name: table.filter(pc.equal(per_row, code)) for code, name in enumerate(names)}


def data_rows(pairs: Sequence[StoredPair]) -> dict[str, tuple[Any, ...]]:
    """The data columns of pairs as a release holds them (Python values, ``DATA_SCHEMA`` order), by id."""
    if not pairs:
        return {}
    rows: dict[str, tuple[Any, ...]] = {}
    for table in split_by_language(payload_rows([pair.payload() for pair in pairs])).values():
        for values in zip(*(column.to_pylist() for column in table.columns)):
            rows[values[0]] = values
    return rows


def data_row(pair: StoredPair) -> tuple[Any, ...]:
    """The data columns of one pair as a release holds them (see :func:`data_rows`)."""
    return data_rows([pair])[pair.id]


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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


def build_database(path: Path, data_files: Mapping[str, Sequence[Path]], bitext_files: Sequence[Path], *,
                   memory_limit: str = "256MB") -> Path:
    """Write ``webfaq.duckdb`` at ``path`` from a release's finished Parquet files; returns ``path``.

    Table ``data`` holds every data file's rows with a ``language`` column (``data_files`` maps a
    language to its files), table ``bitexts`` every bitext file's rows. Built after the Parquet
    files are written, by DuckDB's own Parquet reader (threads release the GIL, memory bounded by
    ``memory_limit``): the tables hold exactly what the files hold. A DuckDB failure is a
    ``ReleaseError``; the caller removes the half-written file with its temporary directory.
    """
    try:
        connection = duckdb.connect(str(path), config={"memory_limit": memory_limit,
                                                       "preserve_insertion_order": False})
    except duckdb.Error as exc:
        raise ReleaseError(f"building {path.name} failed: {exc}") from None
    try:
        data_columns = ", ".join(_duck_column(f) for f in DATA_SCHEMA)
        bitext_columns = ", ".join(_duck_column(f) for f in BITEXT_SCHEMA)
        connection.execute(f"CREATE TABLE data (language VARCHAR, {data_columns})")
        connection.execute(f"CREATE TABLE bitexts ({bitext_columns})")
        file_languages = [(str(file), language) for language, files in sorted(data_files.items()) for file in files]
        if file_languages:  # one statement over every file: DuckDB reads them in parallel
            connection.execute("CREATE TEMP TABLE file_language (filename VARCHAR, language VARCHAR)")
            connection.executemany("INSERT INTO file_language VALUES (?, ?)", file_languages)
            names = ", ".join(f"p.{f.name}" for f in DATA_SCHEMA)
            connection.execute(f"INSERT INTO data SELECT f.language, {names} FROM read_parquet(?, filename = true) p "
                               "JOIN file_language f USING (filename)", [[name for name, _ in file_languages]])
        if bitext_files:
            connection.execute("INSERT INTO bitexts SELECT * FROM read_parquet(?)",
                               [[str(f) for f in sorted(bitext_files)]])
        connection.execute("CHECKPOINT")
    except duckdb.Error as exc:
        raise ReleaseError(f"building {path.name} failed: {exc}") from None
    finally:
        connection.close()
    return path


def duckdb_type(kind: pa.DataType) -> str:
    """The DuckDB type of a release column's Arrow type."""
    if pa.types.is_floating(kind):
        return "DOUBLE"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMPTZ"
    if pa.types.is_int32(kind):
        return "INTEGER"
    if pa.types.is_int64(kind):
        return "BIGINT"
    return "VARCHAR"


def _duck_column(field: pa.Field) -> str:
    """A DuckDB column definition; long texts use zstd (half the CPU of DuckDB's default FSST and
    dictionary compression on release data, and a smaller file)."""
    return (f"{field.name} {duckdb_type(field.type)}"
            + (" USING COMPRESSION zstd" if field.name in _DUCKDB_ZSTD_COLUMNS else ""))
