"""The labelling stage's logic, with an in-memory classifier: which pairs are classified, on what text,
what re-seen pairs keep, and the ``labellers`` meta document."""

from __future__ import annotations

from dataclasses import replace

from webfaq_stream.domain.ids import pair_id
from webfaq_stream.domain.model import Label, PairLabels, StoredPair, TaggedPair
from webfaq_stream.testing import RecordingClassifier
from webfaq_stream.worker.labels import Labeller, question_type_text, topic_text


def tagged(question: str, answer: str = "An answer that is long enough to keep.", language: str = "eng",
           title: str = "Shop FAQ", description: str = "") -> TaggedPair:
    return TaggedPair(id=pair_id(question, answer), origin="https://shop.example", url="https://shop.example/faq",
                      language=language, language_score=0.9, question=question, answer=answer, title=title,
                      description=description, seen="2026-11-20T10:00:00Z")


def stored(pair: TaggedPair, labels: PairLabels) -> StoredPair:
    return StoredPair(id=pair.id, origin=pair.origin, url=pair.url, language=pair.language,
                      language_score=pair.language_score, question=pair.question, answer=pair.answer,
                      title=pair.title, description=pair.description, first_seen=pair.seen,
                      last_seen=pair.seen, labels=labels)


def test_inputs_are_webfaqs() -> None:
    pair = tagged("How do I pay?", "By card or by transfer.", title="Shop", description="Help pages")
    assert topic_text(pair) == ("How do I pay? ### By card or by transfer. ### Title: Shop "
                                "### Description: Help pages")
    assert topic_text(replace(pair, title="", description="")) == "How do I pay? ### By card or by transfer."
    assert question_type_text(pair) == "How do I pay?"


def test_new_pairs_are_classified_once_per_id_in_one_call() -> None:
    topic, kind = RecordingClassifier("topic@1"), RecordingClassifier("kind@1", ("x", "y"))
    pairs = [tagged("How do I pay?"), tagged("Why is my parcel late?"), tagged("How do I pay?"),
             tagged("Hvorfor er pakken forsinket?", language="dan")]
    labelled = Labeller(topic=topic, question_type=kind).label(pairs, {})
    assert [p.id for p in labelled] == [p.id for p in pairs]  # same order: the vectors still match
    assert topic.calls == [[topic_text(pairs[0]), topic_text(pairs[1]), topic_text(pairs[3])]]
    assert kind.calls == [["How do I pay?", "Why is my parcel late?", "Hvorfor er pakken forsinket?"]]
    first = labelled[0].labels
    assert first.question_word_type == "How" and labelled[1].labels.question_word_type == "Why"
    assert labelled[3].labels.question_word_type is None  # Danish is not covered
    assert first.topic == Label(topic.labels[len(topic_text(pairs[0])) % 3], 0.5, "topic@1")
    assert first.question_type == Label(("x", "y")[len("How do I pay?") % 2], 0.5, "kind@1")
    assert labelled[2].labels == first


def test_reseen_pairs_keep_labels_of_the_same_model_and_are_relabelled_by_another() -> None:
    same, old = tagged("Can I return a gift?"), tagged("Where do you ship to?")
    kept = Label("kept", 0.9, "topic@1")
    store = {same.id: stored(same, PairLabels("Can", kept, None)),
             old.id: stored(old, PairLabels("Where", Label("older", 0.8, "topic@0"), None))}
    topic = RecordingClassifier("topic@1")
    labelled = Labeller(topic=topic).label([same, old], store)
    assert topic.calls == [[topic_text(old)]]
    assert labelled[0].labels.topic == kept
    assert labelled[1].labels.topic.model == "topic@1" and labelled[1].labels.topic.label != "older"
    again = Labeller(topic=topic).label([same, old], {**store, old.id: stored(old, labelled[1].labels)})
    assert len(topic.calls) == 1 and again == labelled  # all labelled by this model now: no call at all


def test_without_a_model_stored_labels_stay_and_new_pairs_get_none() -> None:
    seen, new = tagged("Is delivery free?"), tagged("What does delivery cost?")
    earlier = Label("Products and Commercial Services", 0.7, "topic@1")
    store = {seen.id: stored(seen, PairLabels("Is/are/do/does", earlier, None))}
    labelled = Labeller().label([seen, new], store)
    assert labelled[0].labels == PairLabels("Is/are/do/does", earlier, None)
    assert labelled[1].labels == PairLabels("What", None, None)


def test_meta_names_the_models_or_why_there_are_none() -> None:
    meta = Labeller(topic=RecordingClassifier("topic@1")).meta()
    assert meta["topic"] == {"model": "topic@1"}
    assert meta["question_type"] == {"model": None, "reason": "WEBFAQ_QUESTION_TYPE_MODEL is not set"}
    covered = meta["question_word_type"]["languages"]
    assert "eng" in covered and "dan" not in covered
