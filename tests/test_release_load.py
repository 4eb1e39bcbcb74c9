"""A release of the real embedded store loads with DuckDB, pyarrow and Hugging Face ``datasets``,
and its rows, counts and checksums match the store; releases are deterministic and incremental."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import datasets
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from test_release_support import fixture_pairs, make_pair, open_store

from webfaq_stream.cli.main import main as cli_main
from webfaq_stream.errors import ReleaseError
from webfaq_stream.release.build import summary_table, write_release
from webfaq_stream.release.layout import ReleaseLock, list_releases
from webfaq_stream.release.manifest import verify_files
from webfaq_stream.release.writer import BITEXT_SCHEMA, DATA_SCHEMA, data_file_language, data_row, duckdb_type
from webfaq_stream.settings import Settings

CHECKPOINT = {"offsets": {"webfaq.crawl:0": 120, "webfaq.crawl:1": 77}, "time": "2026-11-20T10:00:05Z",
              "batch_seq": 9}


@pytest.fixture()
def store(tmp_path: Path):
    store = open_store(tmp_path / "store")
    store.upsert(fixture_pairs())
    store.set_meta("checkpoint", CHECKPOINT)
    yield store
    store.close()


def settings_for(tmp_path: Path, **overrides) -> Settings:
    return Settings(release_dir=tmp_path / "releases", **overrides)


def expected_rows(store) -> dict[str, list[dict]]:
    """What the release must hold: the store's pairs per language, data columns, sorted by id."""
    rows: dict[str, list[dict]] = {}
    for pair in store.scroll():
        rows.setdefault(pair.language, []).append(dict(zip(DATA_SCHEMA.names, data_row(pair))))
    return {language: sorted(items, key=lambda r: r["id"]) for language, items in rows.items()}


def data_files(release: Path, language: str) -> list[str]:
    return sorted(str(p) for p in (release / "data").glob("*.parquet")
                  if data_file_language(f"data/{p.name}") == language)


def test_release_loads_everywhere_and_matches_the_store(store, tmp_path: Path) -> None:
    result = write_release(store, settings_for(tmp_path, release_part_rows=60), progress=False)
    release = result.path
    expected = expected_rows(store)
    manifest = result.manifest

    assert result.counts == {language: len(rows) for language, rows in expected.items()}
    assert manifest["counts"] == result.counts and manifest["pairs"] == store.count()
    assert manifest["cutoff"]["offsets"] == CHECKPOINT["offsets"]
    assert manifest["cutoff"]["batch_seq"] == CHECKPOINT["batch_seq"]
    assert verify_files(release) == []
    assert not [p for p in release.parent.iterdir() if p.name.startswith(".tmp-")]
    # eng has more than 60 pairs: numbered parts of at most 60 rows; small languages: one file
    assert (release / "data" / "eng-00000.parquet").is_file() and not (release / "data" / "eng.parquet").exists()
    assert (release / "data" / "dan.parquet").is_file()
    assert all(e["rows"] <= 60 for rel, e in manifest["files"].items() if rel.startswith("data/"))

    # pyarrow: every language's rows equal the store's, sorted by id, with UTC timestamps
    for language, rows in expected.items():
        table = pq.ParquetDataset(data_files(release, language)).read()
        assert table.schema.names == DATA_SCHEMA.names
        assert table.schema.field("first_seen").type == table.schema.field("last_seen").type == \
            pa.timestamp("us", tz="UTC")
        assert table.to_pylist() == rows
    assert rows[0]["last_seen"] == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

    # bitexts: the parallel indoorskydive.lu FAQ, 13 questions, three language pairs
    assert result.bitext_counts == {"deu-eng": 13, "deu-fra": 13, "eng-fra": 13}
    bitexts = pq.read_table(release / "bitexts" / "deu-eng.parquet").to_pylist()
    by_id = {row["id"]: row for rows in expected.values() for row in rows}
    for row in bitexts:
        assert (row["language1"], row["language2"]) == ("deu", "eng")
        assert by_id[row["id1"]]["question"] == row["question1"] and by_id[row["id2"]]["url"] == row["url2"]

    # DuckDB over the Parquet files and over webfaq.duckdb
    sql = duckdb.connect()
    parquet_count = sql.execute(f"SELECT count(*) FROM read_parquet('{release}/data/*.parquet')").fetchone()[0]
    assert parquet_count == manifest["pairs"]
    db = duckdb.connect(str(release / "webfaq.duckdb"), read_only=True)
    assert dict(db.execute("SELECT language, count(*) FROM data GROUP BY language").fetchall()) == result.counts
    assert db.execute("SELECT count(*) FROM bitexts").fetchone()[0] == manifest["bitexts"] == 39
    orphans = db.execute("SELECT count(*) FROM bitexts b WHERE b.id1 NOT IN (SELECT id FROM data) "
                         "OR b.id2 NOT IN (SELECT id FROM data)").fetchone()[0]
    assert orphans == 0
    assert db.execute("SELECT * EXCLUDE (language) FROM data WHERE language = 'fra' ORDER BY id").fetchall() \
        == [tuple(r.values()) for r in expected["fra"]]
    types = dict(db.execute("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_name = 'data'").fetchall())
    assert (types["first_seen"], types["source_partition"], types["source_offset"]) == (
        "TIMESTAMP WITH TIME ZONE", "INTEGER", "BIGINT")
    card = (release / "README.md").read_text()
    for field in [*DATA_SCHEMA, *BITEXT_SCHEMA]:  # the dataset card says every column and its types
        assert f"| `{field.name}` | `{field.type}` | `{duckdb_type(field.type)}` |" in card

    # Hugging Face datasets: plain parquet loader, and the dataset card's configs
    deu = datasets.load_dataset("parquet", data_files=data_files(release, "deu"), split="train")
    assert deu.to_list() == expected["deu"]
    assert deu.features["last_seen"].dtype == "timestamp[us, tz=UTC]"
    eng = datasets.load_dataset(str(release), "eng", split="train")
    assert eng["id"] == [r["id"] for r in expected["eng"]]
    pair_config = datasets.load_dataset(str(release), "eng-fra", split="train")
    assert pair_config.num_rows == 13

    table = summary_table(result)
    assert "deu-eng" in table and f"{manifest['pairs']:,}" in table


def test_releases_are_deterministic_incremental_and_pruned(store, tmp_path: Path, capsys) -> None:
    settings = settings_for(tmp_path, release_retention=2)
    first = write_release(store, settings, progress=False)
    second = write_release(store, settings, progress=False)
    assert second.release_id > first.release_id
    parquet = {rel: e["sha256"] for rel, e in first.manifest["files"].items() if rel.endswith(".parquet")}
    assert parquet and parquet == {rel: e["sha256"] for rel, e in second.manifest["files"].items()
                                   if rel.endswith(".parquet")}
    assert second.manifest["previous"] == {"release_id": first.release_id, "added": 0, "updated": 0,
                                           "removed": 0, "by_language": {}}

    # one new pair, one re-seen pair (last_seen moves on)
    seen_again = dataclasses.replace(next(store.scroll(with_vectors=True)), last_seen="2026-11-21T08:00:00Z")
    store.upsert([seen_again])
    store.upsert([make_pair("Wie lange dauert ein Flug im Windkanal?",
                            "Ein Flug dauert je nach Paket zwischen einer und zwei Minuten pro Person.",
                            "https://indoorskydive.lu/de/faq.html", "deu", "2026-11-21T08:00:00Z")])
    third = write_release(store, settings, progress=False)
    previous = third.manifest["previous"]
    assert (previous["release_id"], previous["added"], previous["updated"], previous["removed"]) == \
        (second.release_id, 1, 1, 0)
    assert previous["by_language"]["deu"]["added"] == 1
    assert third.counts["deu"] == second.counts["deu"] + 1
    assert list_releases(settings.release_dir) == [second.release_id, third.release_id]
    assert third.pruned == [first.release_id]

    release_dir = str(settings.release_dir)
    assert cli_main(["release", "--release-dir", release_dir, "--diff", second.release_id, "latest"]) == 0
    out = capsys.readouterr().out
    assert f"{second.release_id} -> {third.release_id}" in out
    assert [line.split() for line in out.splitlines() if line.startswith("total")] == [["total", "1", "1", "0"]]
    assert cli_main(["release", "--release-dir", release_dir, "--verify", "latest"]) == 0
    (third.path / "data" / "dan.parquet").write_bytes(b"tampered")
    assert cli_main(["release", "--release-dir", release_dir, "--verify", "latest"]) == 1
    assert "MISMATCH data/dan.parquet" in capsys.readouterr().out


def test_one_release_at_a_time_and_odd_payloads(store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with ReleaseLock(settings.release_dir), pytest.raises(ReleaseError, match="already running"):
        write_release(store, settings, progress=False)
    odd = make_pair("Was ist das für eine Sprache hier?", "Eine Sprache ohne gültigen Code und ohne Titel.",
                    "https://example.org/faq", "not a language", "2026-11-21T00:00:00Z")
    odd.title, odd.language_score = None, None
    store.upsert([odd])
    result = write_release(store, settings, progress=False)
    rows = pq.read_table(result.path / "data" / "und.parquet").to_pylist()
    assert [(r["id"], r["title"], r["language_score"]) for r in rows] == [(odd.id, "", None)]


def test_a_release_of_the_text_timestamp_format_compares_by_instant(store, tmp_path: Path) -> None:
    """Releases before typed timestamps kept them as text and had no provenance columns: diffing
    against one compares the columns both have, times as instants."""
    settings = settings_for(tmp_path)
    old = write_release(store, settings, progress=False)
    for path in (old.path / "data").glob("*.parquet"):
        table = pq.read_table(path).drop_columns(["record_id", "source_topic", "source_partition", "source_offset"])
        for name in ("first_seen", "last_seen"):
            texts = pc.strftime(table[name], format="%Y-%m-%dT%H:%M:%SZ")
            table = table.set_column(table.schema.get_field_index(name), name, texts)
        pq.write_table(table, path)
    new = write_release(store, settings, progress=False)
    assert new.manifest["previous"] == {"release_id": old.release_id, "added": 0, "updated": 0, "removed": 0,
                                        "by_language": {}}
