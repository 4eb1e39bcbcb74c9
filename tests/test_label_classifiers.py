"""The transformers text classifiers, loaded offline from a tiny model the tests build and save:
shapes, labels from the model's config, batching, model ids, and clear errors for bad models."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_classifier import QUESTION_TYPES, TOPICS, build_tiny_classifier, fixture_texts

from webfaq_stream.embed.classifiers import load_text_classifier
from webfaq_stream.errors import ModelError


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_classifier(tmp_path_factory.mktemp("topic"), TOPICS)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Real multilingual questions and answers, some far longer than the model's 64 tokens."""
    return fixture_texts()[:41]


def forward_passes(classifier) -> list[int]:
    """Batch sizes of the model's forward passes from now on (a hook on the real torch module)."""
    sizes: list[int] = []
    classifier._model.register_forward_hook(lambda module, args, kwargs, out: sizes.append(len(out.logits)),
                                            with_kwargs=True)
    return sizes


def test_labels_come_from_the_config_one_per_text_in_batches(model_dir: Path, texts: list[str]) -> None:
    classifier = load_text_classifier(str(model_dir), batch_size=8)
    sizes = forward_passes(classifier)
    results = classifier.classify(texts)
    assert len(results) == len(texts) and sizes == [8, 8, 8, 8, 8, 1]
    assert {label for label, _ in results} <= set(TOPICS)
    assert len({label for label, _ in results}) > 1  # the texts are told apart, not one constant label
    assert all(1 / len(TOPICS) <= score <= 1 and math.isfinite(score) for _, score in results)
    assert classifier.classify([]) == [] and sizes[-1] == 1  # no forward pass for nothing

    one_by_one = load_text_classifier(str(model_dir), batch_size=1).classify(texts)
    assert [label for label, _ in one_by_one] == [label for label, _ in results]  # padding changes nothing
    assert [score for _, score in one_by_one] == pytest.approx([score for _, score in results], abs=1e-4)


def test_model_id_names_the_location_and_changes_with_the_files(model_dir: Path, tmp_path: Path) -> None:
    first = load_text_classifier(str(model_dir)).model_id
    assert first.startswith(f"{model_dir}@") and len(first.rsplit("@", 1)[1]) == 12
    assert load_text_classifier(str(model_dir)).model_id == first  # a restart relabels nothing
    other = build_tiny_classifier(tmp_path / "other", QUESTION_TYPES, seed=1)
    classifier = load_text_classifier(str(other))
    assert classifier.model_id.rsplit("@", 1)[1] != first.rsplit("@", 1)[1]
    results = classifier.classify(["Why is the sky blue?", "How do I pay?"])
    assert {label for label, _ in results} <= set(QUESTION_TYPES)


def test_a_multi_label_model_scores_with_sigmoid(tmp_path: Path) -> None:
    directory = build_tiny_classifier(tmp_path / "multi", ("x", "y"),
                                      problem_type="multi_label_classification")
    classifier = load_text_classifier(str(directory))
    encoded = classifier._tokenizer(["Is it open?"], return_tensors="pt")
    logits = classifier._model(**encoded).logits[0].detach()
    [(label, score)] = classifier.classify(["Is it open?"])
    best = int(logits.argmax())
    assert label == ("x", "y")[best] and score == pytest.approx(float(logits[best].sigmoid()), abs=1e-5)


def test_missing_and_broken_models_are_clear_errors(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such directory and no cached copy"):
        load_text_classifier(str(tmp_path / "absent"))
    with pytest.raises(ModelError, match="no such directory"):
        load_text_classifier("PaDaS-Lab/nfqa-multilingual-classifier")  # a hub name, not installed here
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelError, match="not a directory"):
        load_text_classifier(str(tmp_path / "file"))
    with pytest.raises(ModelError, match="no config.json"):
        load_text_classifier(str(tmp_path))

    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(ModelError, match="cannot load text classifier"):
        load_text_classifier(str(broken))

    no_tokenizer = tmp_path / "no-tokenizer"
    shutil.copytree(model_dir, no_tokenizer)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (no_tokenizer / name).unlink()
    with pytest.raises(ModelError, match="cannot load text classifier"):
        load_text_classifier(str(no_tokenizer))

    bad_config = tmp_path / "bad-config"
    shutil.copytree(model_dir, bad_config)
    (bad_config / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    with pytest.raises(ModelError, match="cannot load text classifier"):
        load_text_classifier(str(bad_config))

    with pytest.raises(ModelError, match="device 'cuda:7' is not usable"):
        load_text_classifier(str(model_dir), device="cuda:7")


def test_the_core_import_path_does_not_load_transformers() -> None:
    """The worker, the labelling stage and releases import neither transformers nor torch unless a
    classifier is configured (the core install has neither)."""
    code = ("import sys, webfaq_stream.worker.startup, webfaq_stream.worker.batch, "
            "webfaq_stream.worker.labels, webfaq_stream.release.build; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
