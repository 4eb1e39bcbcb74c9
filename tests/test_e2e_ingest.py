"""End to end, one shot: embedded broker, publisher, Faust worker child, store, release, summary.

The crawl is the demo sample (real CC-BY-4.0 fixture pages + generated multilingual FAQs); the store
and the release must hold exactly the pairs the fixtures expect after WebFAQ's filters.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from webfaq_stream.adapters.crawl_files import write_warc_file
from webfaq_stream.domain.question_words import question_words
from webfaq_stream.settings import load_settings
from webfaq_stream.worker.ingest import run_ingest

REPO = Path(__file__).resolve().parents[1]


def test_committed_sample_is_what_the_generator_writes(sample_crawl, tmp_path: Path) -> None:
    regenerated = tmp_path / "sample.warc.gz"
    write_warc_file(regenerated, sample_crawl.pages)
    assert regenerated.read_bytes() == (REPO / "sample" / "sample-crawl.warc.gz").read_bytes()


def test_ingest_stores_and_releases_exactly_the_expected_pairs(
        sample_crawl, tmp_path: Path, worker_env: dict[str, str]) -> None:
    crawl = tmp_path / "crawl.warc.gz"
    write_warc_file(crawl, sample_crawl.pages)
    settings = load_settings(store_dir=tmp_path / "store", release_dir=tmp_path / "releases", partitions=3)

    result = run_ingest(settings, [crawl], progress=False, drain_timeout_s=180)

    expected = sample_crawl.expected_ids
    assert result.published.messages == len(sample_crawl.pages)
    assert result.run.records == len(sample_crawl.pages)
    assert result.run.pairs_kept == len(expected)
    assert result.run.dead_letters == {}
    assert result.run.drops["http_status"] == 1 and result.run.drops["answer_too_short"] == 1

    db = duckdb.connect(str(result.release.path / "webfaq.duckdb"), read_only=True)
    released = {row[0] for row in db.execute("SELECT id FROM data").fetchall()}
    assert released == expected
    parquet = {row[0] for row in duckdb.sql(
        f"SELECT id FROM read_parquet('{result.release.path}/data/*.parquet')").fetchall()}
    assert parquet == expected
    languages = {lang for lang, count in result.release.counts.items() if count}
    assert {"eng", "deu", "fra", "spa"} <= languages
    # labels: the sample's languages are all covered by the question-word rules; no classifier is set
    covered = set(question_words().coverage)
    typed = dict(db.execute("SELECT language, count(question_word_type) FROM data GROUP BY language").fetchall())
    assert typed == {lang: n if lang in covered else 0 for lang, n in result.release.counts.items()}
    labels = result.release.manifest["labels"]
    assert labels["topic"]["model"] is None and labels["topic"]["reason"] == "WEBFAQ_TOPIC_MODEL is not set"
    assert db.execute("SELECT count(topic) FROM data").fetchone() == (0,)

    # the translated FAQ aligns question by question, and nothing else on that site is linked
    bike = sample_crawl.bike_translations
    links = db.execute("SELECT language1, language2, id1, id2 FROM bitexts").fetchall()
    position = {pair_id: (lang, i) for lang, ids in bike.items() for i, pair_id in enumerate(ids)}
    bike_links = [(position[a], position[b]) for _, _, a, b in links if a in position or b in position]
    assert bike_links, "no alignment on the translated site"
    assert all(a[1] == b[1] for a, b in bike_links)  # same question in both languages
    assert len(bike_links) >= 0.8 * 6 * 6  # 6 language pairs x 6 questions

    summary = result.summary()
    assert f"records read           {len(sample_crawl.pages)}" in summary
    assert str(result.release.path) in summary
