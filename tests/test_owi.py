"""OWI metadata shards (resilipipe's schema) as crawl records: the same pairs as the same pages as WARC
records through the real pipeline, rows that cannot be read reported by number, resumable reading,
and the Open Web Search opt-out flags."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from owi_shards import OWI_SCHEMA, page_row, provenance_pages, write_shard

from webfaq_stream.adapters.crawl_files import Page, warc_response_bytes
from webfaq_stream.adapters.owi import COLUMN_MAP, NO_FAQ_MARKUP, is_parquet, owi_rows, row_count
from webfaq_stream.decode.records import decode_record
from webfaq_stream.domain.ids import origin_of
from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.model import SourceRef
from webfaq_stream.domain.pipeline import Pipeline, RawMessage
from webfaq_stream.domain.reasons import Reason
from webfaq_stream.errors import CrawlFileError
from webfaq_stream.worker.publish import ShardStats, shard_messages


@pytest.fixture(scope="module")
def tagger() -> LanguageTagger:
    return LanguageTagger()


def run(pipeline: Pipeline, values: list[bytes]):
    return pipeline.run([RawMessage(value, source=SourceRef("crawl", 0, i)) for i, value in enumerate(values)])


def sightings(result) -> set[tuple[str, str, str | None]]:
    return {(pair.id, pair.language, pair.record_id) for pair in result.pairs}


def test_faq_shard_rows_give_the_pairs_of_the_same_pages_as_warc_records(fixture_pages: Path, tagger,
                                                                          tmp_path: Path) -> None:
    pages = [page for _, page in provenance_pages(fixture_pages)]
    shard = write_shard(tmp_path / "metadata_0.parquet", [page_row(page, with_html=True) for page in pages])
    rows = list(owi_rows(shard))
    assert [row.row for row in rows] == list(range(len(pages))) and not [r.error for r in rows if r.error]
    pipeline = Pipeline(tagger)
    from_owi = run(pipeline, [row.message.value for row in rows])
    from_warc = run(pipeline, [warc_response_bytes(page) for page in pages])
    assert from_owi.pairs and sightings(from_owi) == sightings(from_warc)  # ids, languages, record ids
    assert from_owi.drops == from_warc.drops and not from_owi.dead_letters
    assert [row.message.key for row in rows] == [origin_of(page.url).encode() for page in pages]


def test_metadata_rows_without_html_give_the_pairs_their_declared_markup_holds(fixture_pages: Path, tagger,
                                                                               tmp_path: Path) -> None:
    """Without ``html`` a row has only what resilipipe's extruct pass found (JSON-LD and microdata):
    every pair of a page whose markup it captured, and nothing for RDFa or where extruct failed."""
    pages = provenance_pages(fixture_pages)
    rows = [page_row(page) for _, page in pages]
    shard = write_shard(tmp_path / "metadata_0.parquet", rows)
    pipeline = Pipeline(tagger)
    compared = 0
    for (provenance, page), row, owi in zip(pages, rows, owi_rows(shard)):
        warc_ids = {pair.id for pair in run(pipeline, [warc_response_bytes(page)]).pairs}
        owi_ids = {pair.id for pair in run(pipeline, [owi.message.value]).pairs}
        declared = row["json-ld"] or row["microdata"]
        if declared and provenance["markup_kind"].split()[0] in ("json-ld", "microdata"):
            assert owi_ids == warc_ids, provenance["file"]
            compared += bool(warc_ids)
        else:  # RDFa, or a page extruct cannot read: OWI's row declares nothing
            assert owi_ids <= warc_ids and (not declared or not owi_ids), provenance["file"]
    assert compared > 0


def test_python_literal_and_json_values_are_read_and_a_broken_value_is_reported_by_row(
        fixture_pages: Path, tagger, tmp_path: Path) -> None:
    (_, page), *_ = [p for p in provenance_pages(fixture_pages) if page_row(p[1])["json-ld"]]
    literal = page_row(page)
    assert literal["json-ld"].startswith("[{'")  # str() of extruct's list, as resilipipe writes it
    as_json = {**page_row(page), "json-ld": json.dumps(eval(literal["json-ld"]))}
    broken = {**page_row(page), "json-ld": literal["json-ld"][:-40]}
    shard = write_shard(tmp_path / "metadata_0.parquet", [literal, broken, as_json, literal])
    rows = list(owi_rows(shard))
    assert [row.row for row in rows] == [0, 1, 2, 3]
    assert [row.error is None for row in rows] == [True, False, True, True]
    assert rows[1].error.startswith("json-ld: neither JSON nor a Python literal")
    assert rows[0].message.value == rows[2].message.value == rows[3].message.value
    pairs = run(Pipeline(tagger), [rows[0].message.value]).pairs
    assert pairs and {p.record_id for p in pairs} == {literal["record_id"]}

    stats, reported = ShardStats(), []
    sent = [row for row, message in shard_messages(shard, stats, name="day/shard.parquet", report=reported.append)
            if message is not None]
    assert sent == [0, 2, 3] and stats.rows == 4
    assert stats.unreadable == [{"file": "day/shard.parquet", "row": 1, "reason": rows[1].error}]
    assert reported == [f"day/shard.parquet: row 1 cannot be read: {rows[1].error}"]


def test_reading_resumes_at_a_row_and_reports_every_row_of_a_row_group_it_cannot_decode(
        fixture_pages: Path, tmp_path: Path) -> None:
    rows = [page_row(page) for _, page in provenance_pages(fixture_pages)[:10]]
    shard = write_shard(tmp_path / "metadata_0.parquet", rows, row_group_size=3)
    assert is_parquet(shard) and row_count(shard) == 10
    everything = list(owi_rows(shard, batch_rows=2))
    resumed = list(owi_rows(shard, start_row=7))
    assert [r.row for r in resumed] == [7, 8, 9] and [r.message for r in resumed] == [r.message for r in everything[7:]]
    assert {r.message.headers[-1] for r in resumed} == {("owi-row", str(n).encode()) for n in (7, 8, 9)}

    metadata = pq.ParquetFile(shard).metadata
    group = metadata.row_group(1)
    damaged = bytearray(shard.read_bytes())
    for column in (group.column(i) for i in range(group.num_columns)):  # every page of row group 1
        start = column.dictionary_page_offset if column.has_dictionary_page else column.data_page_offset
        damaged[start:start + column.total_compressed_size] = b"\xff" * column.total_compressed_size
    broken = tmp_path / "damaged.parquet"
    broken.write_bytes(bytes(damaged))
    read = list(owi_rows(broken))
    assert [r.row for r in read] == list(range(10))
    assert [r.row for r in read if r.error] == [3, 4, 5]
    assert all("row group 1" in r.error for r in read if r.error)
    assert [r.message.value for r in read if not r.error] == [
        r.message.value for r in everything if r.row not in (3, 4, 5)]


def test_files_that_are_not_owi_shards_are_refused(tmp_path: Path) -> None:
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_bytes(b"PAR1 but nothing else")
    with pytest.raises(CrawlFileError, match="not a readable Parquet file"):
        list(owi_rows(not_parquet))
    no_url = tmp_path / "no_url.parquet"
    pq.write_table(OWI_SCHEMA.remove(OWI_SCHEMA.get_field_index("url")).empty_table(), no_url)
    with pytest.raises(CrawlFileError, match="no url column"):
        list(owi_rows(no_url))


def test_only_the_mapped_columns_are_read_and_rows_without_faq_markup_are_not_sent(
        fixture_pages: Path, tmp_path: Path) -> None:
    pages = provenance_pages(fixture_pages)
    faq_page = next(page for _, page in pages if page_row(page)["json-ld"] and "FAQPage" in page_row(page)["json-ld"])
    plain = Page("https://example.org/about", b"<html><head><title>About</title></head><body>Hi</body></html>")
    faq_only = {**page_row(plain), "url": "https://example.org/help",
                "faq": [{"question": "Do you ship to Canada?", "answer": "Yes, to every province.", "language": "eng"}]}
    shard = write_shard(tmp_path / "metadata_0.parquet", [page_row(faq_page), page_row(plain), faq_only])
    rows = list(owi_rows(shard))
    assert [row.skipped for row in owi_rows(shard, faq_only=True)] == [None, NO_FAQ_MARKUP, None]
    assert [row.message for row in owi_rows(shard, faq_only=True, start_row=1)] == [None, rows[2].message]
    envelope = json.loads(rows[0].message.value)
    assert set(envelope) <= set(COLUMN_MAP.values()) and "plain_text" not in envelope
    assert envelope["ows_genai"] is True and isinstance(envelope["json_ld"], list)
    record = decode_record(rows[2].message.value)
    assert record.faq == (("Do you ship to Canada?", "Yes, to every province."),) and record.html == b""
    stats = ShardStats()
    assert [row for row, message in shard_messages(shard, stats, name="s") if message] == [0, 2]
    assert stats.skipped == {NO_FAQ_MARKUP: 1}


@pytest.mark.parametrize(("policy", "taken"), [
    ("genai_or_index", {"both": True, "no_flags": True, "genai_false": False, "index_false": False}),
    ("genai", {"both": True, "no_flags": True, "genai_false": False, "index_false": True}),
    ("ignore", {"both": True, "no_flags": True, "genai_false": True, "index_false": True}),
])
def test_opt_out_flags_keep_pages_out_under_the_policy(fixture_pages: Path, tagger, tmp_path: Path,
                                                       policy: str, taken: dict[str, bool]) -> None:
    page = next(page for _, page in provenance_pages(fixture_pages) if page_row(page)["json-ld"])
    flags = {"both": (True, True), "no_flags": (None, None), "genai_false": (True, False),
             "index_false": (False, True)}
    rows = [page_row(Page(f"https://{name.replace('_', '-')}.example/faq", page.html, page.warc_date),
                     ows_index=index, ows_genai=genai) for name, (index, genai) in flags.items()]
    shard = write_shard(tmp_path / "metadata_0.parquet", rows)
    pipeline = Pipeline(tagger, opt_out_policy=policy)
    for name, row in zip(flags, owi_rows(shard)):
        result = run(pipeline, [row.message.value])
        assert bool(result.pairs) == taken[name], name
        assert result.drops[Reason.OPTED_OUT] == (0 if taken[name] else 1), name
    with pytest.raises(ValueError, match="opt-out policy"):
        Pipeline(tagger, opt_out_policy="sometimes")


def test_warc_records_carry_their_record_id_and_owlers_opt_out_headers(fixture_pages: Path, tagger) -> None:
    page = next(page for _, page in provenance_pages(fixture_pages) if page_row(page)["json-ld"])
    plain = warc_response_bytes(page, compress=False)
    head, _, rest = plain.partition(b"\r\n\r\n")
    flagged = head + b"\r\nOWS.GENAI: false\r\nOWS.INDEX: true" + b"\r\n\r\n" + rest
    for value in (plain, flagged, warc_response_bytes(page, compress=True)):
        record = decode_record(value)
        assert record.record_id == page_row(page)["record_id"]
    assert (decode_record(flagged).ows_genai, decode_record(flagged).ows_index) == (False, True)
    assert decode_record(plain).ows_genai is None
    result = run(Pipeline(tagger), [flagged])
    assert not result.pairs and result.drops[Reason.OPTED_OUT] == 1


def test_an_envelope_may_carry_only_declared_markup(fixture_pages: Path, tagger) -> None:
    pages = provenance_pages(fixture_pages)
    provenance, page = next((row, page) for row, page in pages if row["markup_kind"] == "microdata"
                            and page_row(page)["microdata"])
    declared = page_row(page)
    envelope = {"url": page.url, "warc_date": page.warc_date,
                "microdata": [json.dumps(item) for item in eval(declared["microdata"])]}
    pairs = run(Pipeline(tagger), [json.dumps(envelope).encode()]).pairs
    assert {p.id for p in pairs} == {p.id for p in run(Pipeline(tagger), [warc_response_bytes(page)]).pairs}
    assert pairs, provenance["file"]
    nothing = run(Pipeline(tagger), [json.dumps({"url": page.url, "warc_date": page.warc_date}).encode()])
    assert nothing.dead_letter_reasons() == {"invalid_envelope": 1}
