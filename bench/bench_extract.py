"""Extraction throughput on one core: the project vs the plain extruct call, same pages, same run.

Pages: the 41 shared fixture pages (about 300 KB each) as saved ("FAQ pages") and the same pages with
their FAQ markup removed (every case-insensitive ``faqpage`` replaced by ``WebPage``, same size).
Plain way: ``extruct.extract(html, syntaxes=["json-ld", "microdata"], uniform=True)`` and then the
FAQPage walk and text cleaning over its result. Prints the median pages/s of several rounds for both,
their ratio, and whether both give the same pairs.

Run: ``make bench-extract`` (or ``python bench/bench_extract.py [--rounds N]``).
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import extruct

from webfaq_stream.extract import extract_faq
from webfaq_stream.extract_graph import faq_pairs
from webfaq_stream.htmltext import html_to_text

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "faq-pages"
URL = "https://example.com/faq"

Pairs = list[tuple[str, str]]


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


def pages_per_second(extract: Callable[[bytes], Pairs], pages: list[bytes]) -> float:
    """One round over ``pages``: pages per second."""
    started = time.perf_counter()
    for page in pages:
        extract(page)
    return len(pages) / (time.perf_counter() - started)


def compare(pages: list[bytes], rounds: int, plain_every: int) -> tuple[float, float]:
    """Median pages/s of the project and of the plain call, rounds interleaved (shared-CPU noise)."""
    ours, theirs = [], []
    for round_number in range(rounds):
        ours.append(pages_per_second(project, pages))
        if round_number % plain_every == 0:
            theirs.append(pages_per_second(plain_extruct, pages))
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    faq_pages = [path.read_bytes() for path in sorted(FIXTURES.glob("*.html"))]
    plain_pages = [re.sub(rb"(?i)faqpage", b"WebPage", page) for page in faq_pages]
    mean_kb = sum(map(len, faq_pages)) / len(faq_pages) / 1024
    print(f"{len(faq_pages)} pages, mean {mean_kb:.0f} KB, {args.rounds} rounds, one core")

    same = sum(project(page) == plain_extruct(page) for page in faq_pages)
    pairs = sum(len(project(page)) for page in faq_pages)
    print(f"same pairs as the plain call on {same}/{len(faq_pages)} pages ({pairs} pairs from the project;"
          " the plain call reads no RDFa)")
    assert all(project(page) == [] for page in plain_pages), "markup-free pages must give no pairs"

    print(f"{'pages':<22}{'project p/s':>14}{'plain extruct p/s':>20}{'ratio':>8}")
    for label, pages, plain_every in (("with FAQ markup", faq_pages, 1),
                                      ("FAQ markup removed", plain_pages, 20)):
        ours, theirs = compare(pages, args.rounds * plain_every, plain_every)
        print(f"{label:<22}{ours:>14,.0f}{theirs:>20,.1f}{ours / theirs:>7.1f}x")


if __name__ == "__main__":
    main()
