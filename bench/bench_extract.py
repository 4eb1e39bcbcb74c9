"""Extraction throughput on one core: the project vs the plain extruct call, same pages, same run.

Pages: the 41 shared fixture pages (about 300 KB each) as saved ("FAQ pages") and the same pages with
their FAQ markup removed (every case-insensitive ``faqpage`` replaced by ``WebPage``, same size).
Plain way: ``extruct.extract(html, syntaxes=["json-ld", "microdata"], uniform=True)`` and then the
FAQPage walk and text cleaning over its result. The ratio is taken on the pages where both give the
same pairs (the plain call reads no RDFa, so the RDFa page is timed apart and has no ratio). Prints
the median pages/s of several interleaved rounds for both and their ratio.

Time is this process's CPU time (``time.process_time``), so pages/s is per core and other processes
sharing the machine do not distort it (wall time is printed too).

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

from webfaq_stream.extract.graph import faq_pairs
from webfaq_stream.extract.page import extract_faq
from webfaq_stream.extract.text import html_to_text

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


def pages_per_second(extract: Callable[[bytes], Pairs], pages: list[bytes]) -> tuple[float, float]:
    """One round over ``pages``: pages per CPU second and per wall second."""
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    for page in pages:
        extract(page)
    cpu, wall = time.process_time() - cpu_started, time.perf_counter() - wall_started
    return len(pages) / max(cpu, 1e-9), len(pages) / wall


def compare(pages: list[bytes], rounds: int, plain_every: int) -> tuple[float, float, float]:
    """Median pages/s (CPU) of the project and of the plain call, rounds interleaved; and the
    project's median pages/s in wall time."""
    ours, ours_wall, theirs = [], [], []
    for round_number in range(rounds):
        cpu, wall = pages_per_second(project, pages)
        ours.append(cpu)
        ours_wall.append(wall)
        if round_number % plain_every == 0:
            theirs.append(pages_per_second(plain_extruct, pages)[0])
    return statistics.median(ours), statistics.median(theirs), statistics.median(ours_wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    faq_pages = [path.read_bytes() for path in sorted(FIXTURES.glob("*.html"))]
    plain_pages = [re.sub(rb"(?i)faqpage", b"WebPage", page) for page in faq_pages]
    mean_kb = sum(map(len, faq_pages)) / len(faq_pages) / 1024
    print(f"{len(faq_pages)} pages, mean {mean_kb:.0f} KB, {args.rounds} rounds, one core")

    agree = [page for page in faq_pages if project(page) == plain_extruct(page)]
    differ = [page for page in faq_pages if page not in agree]
    pairs = sum(len(project(page)) for page in agree)
    print(f"same pairs as the plain call on {len(agree)}/{len(faq_pages)} pages ({pairs} pairs);"
          f" {len(differ)} page(s) timed apart (the plain call reads no RDFa)")
    assert all(project(page) == [] for page in plain_pages), "markup-free pages must give no pairs"

    print(f"{'pages':<30}{'project p/s':>12}{'plain p/s':>11}{'ratio':>8}{'project wall p/s':>18}")
    for label, pages, plain_every in ((f"with FAQ markup, agreeing ({len(agree)})", agree, 1),
                                      (f"with FAQ markup, others ({len(differ)})", differ, 1),
                                      ("FAQ markup removed", plain_pages, 20)):
        if not pages:
            continue
        ours, theirs, ours_wall = compare(pages, args.rounds * plain_every, plain_every)
        ratio = "   n/a" if pages is differ else f"{ours / theirs:>7.1f}x"  # not the same output there
        print(f"{label:<30}{ours:>12,.0f}{theirs:>11,.1f}{ratio:>8}{ours_wall:>18,.0f}")


if __name__ == "__main__":
    main()
