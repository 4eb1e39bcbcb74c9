"""End to end: ``webfaq-stream ingest FILE.parquet`` on an OWI-shaped shard of the real fixture pages
(embedded broker, Faust worker child, store, release) gives the pairs of the same pages as WARC
records; a row whose ``json-ld`` cannot be read is reported with its row number while the rest goes
through; an ``ows_genai=false`` page does not reach the release and its drop is counted; the release
has typed timestamps and provenance columns, loaded by DuckDB, pyarrow and ``datasets``."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import datasets
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from owi_shards import page_row, provenance_pages, write_shard

from webfaq_stream.adapters.crawl_files import warc_response_bytes
from webfaq_stream.cli.main import main
from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.pipeline import Pipeline
from webfaq_stream.domain.reasons import Reason
from webfaq_stream.release.layout import list_releases
from webfaq_stream.release.manifest import read_manifest
from webfaq_stream.store.indexer import representative_key
from webfaq_stream.testing import messages_from


def test_ingest_of_an_owi_shard(fixture_pages: Path, tmp_path: Path, worker_env, capsys) -> None:
    pages = [page for _, page in provenance_pages(fixture_pages)]
    pipeline = Pipeline(LanguageTagger())
    per_page = [pipeline.run(messages_from([warc_response_bytes(page)])).pairs for page in pages]
    ids_elsewhere = [{p.id for j, found in enumerate(per_page) if j != i for p in found} for i in range(len(pages))]
    opted = next(i for i, found in enumerate(per_page) if found and not {p.id for p in found} & ids_elsewhere[i])
    kept_pages = [page for i, page in enumerate(pages) if i != opted]
    sightings = defaultdict(list)  # pair id -> its sightings on the pages that are taken
    for i, found in enumerate(per_page):
        if i != opted:
            for pair in found:
                sightings[pair.id].append(pair)
    # one point per id, with the page fields of the sighting that sorts first (the store's rule)
    expected = {pid: min(found, key=representative_key).language for pid, found in sightings.items()}
    record_ids = {pid: {pair.record_id for pair in found} for pid, found in sightings.items()}

    rows = [page_row(page, with_html=True) for page in kept_pages]
    broken_at = len(rows) // 2
    source = next(row for row in rows if row["json-ld"])
    broken = {**source, "url": source["url"] + "?copy", "json-ld": source["json-ld"][:-25]}
    rows.insert(broken_at, broken)
    rows.append(page_row(pages[opted], with_html=True, ows_genai=False))
    shard = write_shard(tmp_path / "owi" / "year=2026" / "month=11" / "day=20" / "language=eng" / "metadata_0.parquet",
                        rows)

    assert main(["ingest", str(shard), "--store-dir", str(tmp_path / "store"),
                 "--release-dir", str(tmp_path / "releases"), "--quiet", "--timeout", "300"]) == 0
    out, err = capsys.readouterr()
    assert f"{shard}: row {broken_at} cannot be read: json-ld: neither JSON nor a Python literal" in err
    assert "opted_out 1" in out
    (release_id,) = list_releases(tmp_path / "releases")
    release = tmp_path / "releases" / release_id
    manifest = read_manifest(release)

    db = duckdb.connect(str(release / "webfaq.duckdb"), read_only=True)
    released = db.execute("SELECT id, language, record_id, source_topic, source_partition, source_offset, "
                          "first_seen, typeof(first_seen) FROM data").fetchall()
    assert {row[0]: row[1] for row in released} == expected
    assert not {p.id for p in per_page[opted]} & {row[0] for row in released}
    for pair_id, _, record_id, topic, partition, offset, first_seen, kind in released:
        assert record_id in record_ids[pair_id] and topic == "webfaq.crawl"
        assert isinstance(partition, int) and isinstance(offset, int) and offset >= 0
        assert kind == "TIMESTAMP WITH TIME ZONE" and first_seen.utcoffset().total_seconds() == 0
    assert sum(manifest["counts"].values()) == len(expected)

    language = max(manifest["counts"], key=manifest["counts"].get)
    files = sorted(str(p) for p in (release / "data").glob(f"{language}*.parquet"))
    table = pq.ParquetDataset(files).read()
    assert table.schema.field("last_seen").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("source_partition").type == pa.int32()
    loaded = datasets.load_dataset(str(release), language, split="train")
    assert loaded.features["first_seen"].dtype.startswith("timestamp[us")
    assert sorted(loaded["id"]) == sorted(table.column("id").to_pylist())
    assert json.loads((release / "manifest.json").read_text())["forgotten"]["tombstones"] == {}
    assert Reason.OPTED_OUT in out
