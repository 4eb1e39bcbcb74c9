"""The labelling stage of a worker batch: question-word type, topic and question type per pair.

``Labeller(topic=..., question_type=...).label(pairs, stored)`` returns ``pairs`` (same order) with
their :class:`~webfaq_stream.domain.model.PairLabels`:

- ``question_word_type``: WebFAQ v1's class from :mod:`webfaq_stream.domain.question_words`, for
  the covered languages (``None`` elsewhere); recomputed every time (pure and cheap).
- ``topic`` on WebFAQ's input ``question ### answer`` (plus `` ### Title: ...`` and
  `` ### Description: ...`` when the page has them, as WebFAQ's labelling script writes it) and
  ``question_type`` on the question, each by its :class:`~webfaq_stream.ports.TextClassifier`.

A re-seen pair (its id in ``stored``, the store's current points) keeps a stored label that came
from the configured model (same ``model_id``): it is not computed again. Without a configured
model a pair keeps its stored label, if any, and gets none otherwise. Every other label is computed
once per id (a batch may hold the same pair twice), the texts in the classifier's own batches.
:meth:`Labeller.meta` is the ``labellers`` store meta document (``release.manifest.LABELLERS_KEY``):
what the release manifest reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from webfaq_stream.domain.model import Label, PairLabels, StoredPair, TaggedPair
from webfaq_stream.domain.question_words import QuestionWords, question_words
from webfaq_stream.ports import TextClassifier

#: The classifier fields and the setting that configures each.
CLASSIFIER_SETTINGS = {"topic": "WEBFAQ_TOPIC_MODEL", "question_type": "WEBFAQ_QUESTION_TYPE_MODEL"}


def topic_text(pair: TaggedPair) -> str:
    """WebFAQ's topic-classifier input for a pair."""
    text = f"{pair.question} ### {pair.answer}"
    if pair.title:
        text += f" ### Title: {pair.title}"
    if pair.description:
        text += f" ### Description: {pair.description}"
    return text


def question_type_text(pair: TaggedPair) -> str:
    """The question-type classifier's input: the question."""
    return pair.question


_INPUTS: dict[str, Callable[[TaggedPair], str]] = {"topic": topic_text, "question_type": question_type_text}


class Labeller:
    """See the module contract; ``words`` defaults to the packaged question-word data."""

    def __init__(self, topic: TextClassifier | None = None, question_type: TextClassifier | None = None,
                 words: QuestionWords | None = None) -> None:
        self.classifiers: dict[str, TextClassifier | None] = {"topic": topic, "question_type": question_type}
        self.words = words or question_words()

    def label(self, pairs: Sequence[TaggedPair], stored: Mapping[str, StoredPair]) -> list[TaggedPair]:
        """``pairs`` with their labels (module contract)."""
        labels: dict[str, dict[str, Label | None]] = {
            pair.id: {name: getattr(stored[pair.id].labels, name) if pair.id in stored else None
                      for name in self.classifiers} for pair in pairs}
        for name, classifier in self.classifiers.items():
            if classifier is None:
                continue
            todo: dict[str, TaggedPair] = {}
            for pair in pairs:
                current = labels[pair.id][name]
                if (current is None or current.model != classifier.model_id) and pair.id not in todo:
                    todo[pair.id] = pair
            if not todo:
                continue
            results = classifier.classify([_INPUTS[name](pair) for pair in todo.values()])
            for pair_id, (label, score) in zip(todo, results, strict=True):
                labels[pair_id][name] = Label(label, float(score), classifier.model_id)
        word_type = self.words.question_word_type
        return [replace(pair, labels=PairLabels(word_type(pair.question, pair.language), **labels[pair.id]))
                for pair in pairs]

    def meta(self) -> dict[str, Any]:
        """The ``labellers`` meta document: per classifier its ``model`` id, or ``None`` and why."""
        document: dict[str, Any] = {}
        for name, classifier in self.classifiers.items():
            document[name] = ({"model": classifier.model_id} if classifier is not None else
                              {"model": None, "reason": f"{CLASSIFIER_SETTINGS[name]} is not set"})
        document["question_word_type"] = {"languages": dict(sorted(self.words.coverage.items()))}
        return document
