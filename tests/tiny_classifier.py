"""A tiny text-classification model built offline, saved the way ``save_pretrained`` saves real ones.

``build_tiny_classifier(directory, labels)`` trains a small WordPiece tokenizer (``tokenizers``) on
the real multilingual fixture questions, builds a one-layer BERT sequence classifier with random
weights (seeded; a wide initialisation, so that different texts get different labels) and
``id2label = labels``, and saves both to ``directory``. Its predictions mean
nothing; the loading, batching, truncation and label plumbing around it are the real ones. Nothing
is downloaded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from shared_fixtures import SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "multilingual-faq"
#: WebFAQ's eight topics (the topic classifier's classes).
TOPICS = ("Products and Commercial Services", "Traveling and Hospitality",
          "Healthcare Services, Wellness and Lifestyle", "Entertainment, Recreation and Leisure",
          "Employment, Education and Training", "Banking, Financial Services and Insurance",
          "Legal Services, Regulations and Government", "General Information and Other")
#: The NFQA question categories.
QUESTION_TYPES = ("NOT-A-QUESTION", "FACTOID", "DEBATE", "EVIDENCE-BASED", "INSTRUCTION", "REASON",
                  "EXPERIENCE", "COMPARISON")
MAX_LENGTH = 64


def fixture_texts() -> list[str]:
    """Every question and answer of the multilingual fixtures (the tokenizer's training text)."""
    texts: list[str] = []
    for path in sorted(FIXTURES.glob("*/*.json")):
        for item in json.loads(path.read_text(encoding="utf-8")):
            texts += [item["question"], item["answer"]]
    return texts


def build_tiny_classifier(directory: Path, labels: Sequence[str] = TOPICS, *, seed: int = 0,
                          problem_type: str | None = None) -> Path:
    """Train, build and save the tiny model in ``directory``; returns ``directory``."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    wordpiece = BertWordPieceTokenizer(lowercase=True, strip_accents=False)
    wordpiece.train_from_iterator(fixture_texts(), vocab_size=800, min_frequency=2, show_progress=False)
    tokenizer = BertTokenizerFast(tokenizer_object=wordpiece._tokenizer, model_max_length=MAX_LENGTH,
                                  unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]",
                                  mask_token="[MASK]")
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=MAX_LENGTH,
                        num_labels=len(labels), id2label=dict(enumerate(labels)),
                        label2id={label: i for i, label in enumerate(labels)}, problem_type=problem_type,
                        pad_token_id=tokenizer.pad_token_id, initializer_range=1.0)
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
