"""Extraction speed on one core: the project against the plain extruct call, same pages, same run;
pages without FAQ markup; and what extraction costs next to embedding the pairs it finds.

Pages: every fixture page of the test fixtures' ``faq-pages`` folder as saved ("FAQ pages"), and the
same pages with their FAQ markup removed (every case-insensitive ``faqpage`` replaced by ``WebPage``,
same size). The plain way: ``extruct.extract(html, syntaxes=["json-ld", "microdata"], uniform=True)``,
then the same FAQPage walk and text cleaning over its result. The ratio is taken on the pages where
both give the same pairs (the plain call reads no RDFa; those pages are timed apart, without a ratio),
over the whole set and page by page (median of the rounds per page, each round in an order of its
own: :func:`per_page_times`; the slowest ratio is printed).

Rows:
1. FAQ pages: pages/s of the project and of the plain call, their ratio, the lowest page ratio, how
   many pages are under 1.5x; then page by page twice, with the pages with the lowest ratios (their
   times): in crawl order (each page after other pages, as in a crawl: what the bench's ratio and
   lowest page are taken from) and warm (each page several times in a row: its own cost);
2. pages without FAQ markup: pages/s of the project (target: 10,000 on one core);
3. per FAQ page with pairs kept by WebFAQ's filters: the project's extraction time and the time the
   default embedding model (``load_embedder(Settings.embedding_model)``) takes to embed that page's
   kept pairs (``question answer``, one batch, as the worker does), medians and the largest ratio
   (target: extraction under a tenth of embedding), and the page with the largest ratio.
Time is this process's CPU time (``time.process_time``), so figures are per core and other processes
sharing the machine distort them less (wall time is printed for row 1). Every figure is the median of
``--rounds`` interleaved rounds.

Run: ``make bench-extract`` (or ``python bench/bench_extract.py [--rounds N]``).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import extruct

from webfaq_stream.domain.clean import clean_pairs
from webfaq_stream.domain.model import RawPair
from webfaq_stream.embed.models import load_embedder
from webfaq_stream.extract.graph import faq_pairs
from webfaq_stream.extract.page import extract_faq
from webfaq_stream.extract.text import html_to_text
from webfaq_stream.settings import load_settings

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "faq-pages"
URL = "https://example.com/faq"

Pairs = list[tuple[str, str]]
#: How many of the lowest page ratios row 1 names.
LOWEST_SHOWN = 5


def project(page: bytes) -> Pairs:
    return [(p.question, p.answer) for p in extract_faq(page, URL).pairs]


def plain_extruct(page: bytes) -> Pairs:
    data = extruct.extract(page, base_url=URL, syntaxes=["json-ld", "microdata"], uniform=True,
                           errors="ignore")
    pairs: Pairs = []
    for question, answer in faq_pairs(data.get("json-ld", []) + data.get("microdata", [])):
        pair = (html_to_text(question), html_to_text(answer))
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def cpu_seconds(extract: Callable[[bytes], object], page: bytes) -> float:
    started = time.process_time()
    extract(page)
    return time.process_time() - started


def per_page_times(extract: Callable[[bytes], object], pages: list[bytes], rounds: int) -> list[float]:
    """Median CPU seconds of each page over ``rounds`` rounds. A round runs every page once, as pages
    come in a crawl (each after other pages, with what they left in the CPU's caches), in an order of
    its own: with one fixed order a page would always follow the same page (the one after a 3 MB page
    always finds the caches cold). The orders are the same for every extractor (seeded)."""
    samples: list[list[float]] = [[] for _ in pages]
    for round_number in range(rounds):
        order = list(range(len(pages)))
        random.Random(round_number).shuffle(order)
        for index in order:
            samples[index].append(cpu_seconds(extract, pages[index]))
    return [statistics.median(times) for times in samples]


def warm_page_times(extract: Callable[[bytes], object], pages: list[bytes], rounds: int) -> list[float]:
    """Median CPU seconds of each page run ``rounds`` times in a row after one untimed run: the page's
    own cost, with its code and data in the CPU's caches."""
    times: list[float] = []
    for page in pages:
        extract(page)
        times.append(statistics.median([cpu_seconds(extract, page) for _ in range(rounds)]))
    return times


PageRatio = tuple[float, str, float, float]  # plain/project, page, project's seconds, plain's seconds


def page_ratios(ours: list[float], theirs: list[float], names: list[str]) -> list[PageRatio]:
    """Each page's ratio with its times, lowest ratio first."""
    return sorted((t / max(o, 1e-9), name, o, t) for o, t, name in zip(ours, theirs, names, strict=True))


def _below(rows: list[PageRatio]) -> int:
    return sum(row[0] < 1.5 for row in rows)


def _lowest(rows: list[PageRatio]) -> str:
    return "; ".join(f"{name} {ratio:.2f}x ({o * 1e6:,.0f} vs {t * 1e6:,.0f} us)"
                     for ratio, name, o, t in rows[:LOWEST_SHOWN])


def rate(extract: Callable[[bytes], object], pages: list[bytes], rounds: int) -> tuple[float, float]:
    """Median pages per CPU second and per wall second of whole rounds over ``pages``."""
    cpu_rates, wall_rates = [], []
    for _ in range(rounds):
        cpu_started, wall_started = time.process_time(), time.perf_counter()
        for page in pages:
            extract(page)
        cpu_rates.append(len(pages) / max(time.process_time() - cpu_started, 1e-9))
        wall_rates.append(len(pages) / (time.perf_counter() - wall_started))
    return statistics.median(cpu_rates), statistics.median(wall_rates)


def faq_rows(agree: dict[str, bytes], others: list[bytes], rounds: int) -> None:
    pages = list(agree.values())
    ours, ours_wall = rate(project, pages, rounds)
    theirs, _ = rate(plain_extruct, pages, rounds)
    names = list(agree)
    crawl = page_ratios(per_page_times(project, pages, rounds), per_page_times(plain_extruct, pages, rounds), names)
    print(f"{'pages':<34}{'project p/s':>12}{'plain p/s':>11}{'ratio':>8}{'lowest page':>13}{'wall p/s':>10}")
    print(f"{f'FAQ pages, same pairs ({len(agree)})':<34}{ours:>12,.0f}{theirs:>11,.1f}{ours / theirs:>7.2f}x"
          f"{crawl[0][0]:>12.2f}x{ours_wall:>10,.0f}   pages under 1.5x: {_below(crawl)}")
    print(f"  page by page, in crawl order (shuffled rounds): lowest: {_lowest(crawl)}")
    warm = page_ratios(warm_page_times(project, pages, rounds), warm_page_times(plain_extruct, pages, rounds), names)
    print(f"  page by page, warm ({rounds} runs in a row): lowest {warm[0][0]:.2f}x, "
          f"pages under 1.5x: {_below(warm)}; lowest: {_lowest(warm)}")
    if others:
        ours, ours_wall = rate(project, others, rounds)
        theirs, _ = rate(plain_extruct, others, rounds)
        print(f"{f'FAQ pages, other pairs ({len(others)})':<34}{ours:>12,.0f}{theirs:>11,.1f}{'n/a':>8}"
              f"{'':>13}{ours_wall:>10,.0f}")


def embedding_row(pages: dict[str, bytes], rounds: int) -> None:
    model = load_settings().embedding_model
    embedder = load_embedder(model)
    texts: list[list[str]] = []
    kept_pages: list[bytes] = []
    kept_names: list[str] = []
    for name, page in pages.items():
        kept, _ = clean_pairs([RawPair(q, a) for q, a in project(page)])
        if kept:
            kept_pages.append(page)
            kept_names.append(name)
            texts.append([f"{pair.question} {pair.answer}" for pair in kept])
    embedder.encode(texts[0])  # warm the model
    extraction = per_page_times(project, kept_pages, rounds)
    embedding: list[list[float]] = [[] for _ in kept_pages]
    for _ in range(rounds):
        for index, batch in enumerate(texts):
            started = time.process_time()
            embedder.encode(batch)
            embedding[index].append(time.process_time() - started)
    embed_each = [statistics.median(times) for times in embedding]
    ratios = [e / max(m, 1e-9) for e, m in zip(extraction, embed_each, strict=True)]
    pairs = sum(map(len, texts))
    print(f"\nextraction vs embedding ({model}), {len(kept_pages)} FAQ pages, {pairs} kept pairs:")
    print(f"  extraction per page   median {statistics.median(extraction) * 1e3:8.2f} ms")
    print(f"  embedding its pairs   median {statistics.median(embed_each) * 1e3:8.2f} ms")
    largest = max(range(len(ratios)), key=ratios.__getitem__)
    print(f"  extraction/embedding  median {statistics.median(ratios):8.3f}   largest {ratios[largest]:.3f}"
          f"   (target < 0.1; totals {sum(extraction) / sum(embed_each):.3f})")
    print(f"  largest: {kept_names[largest]}, {len(texts[largest])} kept pairs, extraction "
          f"{extraction[largest] * 1e3:.2f} ms, embedding {embed_each[largest] * 1e3:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    named = {path.stem: path.read_bytes() for path in sorted(FIXTURES.glob("*.html"))}
    faq_pages = list(named.values())
    plain_pages = [re.sub(rb"(?i)faqpage", b"WebPage", page) for page in faq_pages]
    mean_kb = sum(map(len, faq_pages)) / len(faq_pages) / 1024
    load = os.getloadavg()
    print(f"{len(faq_pages)} pages, mean {mean_kb:.0f} KB, {args.rounds} rounds, one core, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    agree = {name: page for name, page in named.items() if project(page) == plain_extruct(page)}
    others = [page for name, page in named.items() if name not in agree]
    pairs = sum(len(project(page)) for page in agree.values())
    print(f"same pairs as the plain call on {len(agree)}/{len(faq_pages)} pages ({pairs} pairs); "
          f"{len(others)} timed apart (the plain call reads no RDFa)")
    assert all(project(page) == [] for page in plain_pages), "markup-free pages must give no pairs"

    faq_rows(agree, others, args.rounds)
    ours, ours_wall = rate(project, plain_pages, args.rounds * 20)
    print(f"{'pages without FAQ markup':<34}{ours:>12,.0f}{'':>11}{'':>8}{'':>13}{ours_wall:>10,.0f}"
          "   (target 10,000)")
    embedding_row(named, args.rounds)


if __name__ == "__main__":
    main()
