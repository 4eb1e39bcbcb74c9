"""``webfaq-stream calibrate``: precision and recall of cross-lingual alignment per threshold.

Runs the worker's pipeline (extract -> clean -> language id, :class:`~webfaq_stream.domain.pipeline.Pipeline`) and the configured models -> the worker's
:class:`PairIndexer` on a temporary embedded store) over labelled multilingual pages, then sweeps
the alignment threshold over the links the configured rule makes (the alignment at threshold ``t``
is exactly those whose score is ``>= t``) and prints, per site and per site kind (translated,
localized), how many links were predicted, how many are correct, precision, recall, and the lowest
recall of a language with at least :data:`MIN_LANGUAGE_ENTRIES` entries in the site.

Recall counts ``(language, language, label)`` gold links: an entry present twice in one tagged
language (``pt-BR`` and ``pt-PT`` both tag ``por``) can link once, so it counts once.

``--multilingual DIR`` (``<site>/<language>.json`` files of ``{key, question, answer}``): pages are built from
the folder at run time (:mod:`webfaq_stream.cli.multilingual`); entries with the same key are the
gold links; the site kind comes from its ``SOURCES.tsv``.

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
from dataclasses import dataclass, field, replace
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from webfaq_stream.domain.align import align_origin
from webfaq_stream.domain.ids import origin_of
from webfaq_stream.domain.model import PageDropped, StoredPair, TaggedPair
from webfaq_stream.errors import ConfigurationError, RecordError, WebFAQError

if TYPE_CHECKING:
    from webfaq_stream.domain.pipeline import Pipeline

Unit = tuple[str, int]  # (page file name, 1-based question index in document order)
Label = tuple[str, str, str]  # (group, kind, value)
#: Per-language recall is reported for languages with at least this many entries in a site.
MIN_LANGUAGE_ENTRIES = 20


@dataclass(slots=True)
class Gold:
    """Labels of the labelled questions; ``exact`` labels define the links recall counts."""

    labels: dict[Unit, set[Label]] = field(default_factory=lambda: defaultdict(set))
    exact: set[Label] = field(default_factory=set)
    files: set[str] = field(default_factory=set)
    kinds: dict[str, str] = field(default_factory=dict)  # origin -> translated | localized

    def merge(self, other: Gold) -> None:
        for unit, labels in other.labels.items():
            self.labels[unit] |= labels
        self.exact |= other.exact
        self.files |= other.files
        self.kinds.update(other.kinds)


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
        gold.kinds[f"https://{row['site']}"] = ("localized" if row["alignment"].startswith("comparable")
                                                else gold.kinds.get(f"https://{row['site']}", "translated"))
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


def candidate_links(pairs: Iterable[StoredPair], models: Any) -> dict[str, list[tuple[str, str, float]]]:
    """Per origin, every link the configured rule makes at any threshold: ``(id, id, score)``."""
    from webfaq_stream.store.indexer import align_items

    by_origin: dict[str, list[StoredPair]] = defaultdict(list)
    for pair in pairs:
        by_origin[pair.origin].append(pair)
    rule = replace(models.align_rule(), threshold=-np.inf)
    links: dict[str, list[tuple[str, str, float]]] = {}
    for origin, group in by_origin.items():
        wide = models.wide is not None and len({p.language for p in group}) >= 2
        aligned = align_origin(align_items(group, wide), rule)
        links[origin] = sorted({(min(a, link["id"]), max(a, link["id"]), float(link["similarity"]))
                                for a, partners in aligned.items() for link in partners.values()})
    return links


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything a sweep needs: links per origin, each id's labels and language, the gold links per
    origin as ``(language, language, label)``, the kind of each origin, entries per (origin, language)."""

    links: dict[str, list[tuple[str, str, float]]]
    labels: dict[str, set[Label]]
    languages: dict[str, str]
    gold: dict[str, set[tuple[str, str, Label]]]
    kinds: dict[str, str]
    sizes: dict[tuple[str, str], int]


def score(evaluation: Evaluation, origin: str, threshold: float) -> tuple[Scores, dict[str, float]]:
    """Precision/recall of ``origin``'s links at or above ``threshold``, and the recall per language."""
    kept = [(a, b) for a, b, similarity in evaluation.links.get(origin, []) if similarity >= threshold]
    labels = evaluation.labels
    correct = sum(1 for a, b in kept if labels.get(a, set()) & labels.get(b, set()))
    gold = evaluation.gold.get(origin, set())
    found = set()
    for a, b in kept:
        pair = tuple(sorted((evaluation.languages[a], evaluation.languages[b])))
        found |= {(*pair, label) for label in labels.get(a, set()) & labels.get(b, set())} & gold
    by_language: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for first, second, label in gold:
        for language in (first, second):
            by_language[language][0] += 1
            by_language[language][1] += (first, second, label) in found
    recall = {language: hits / total for language, (total, hits) in by_language.items()
              if evaluation.sizes.get((origin, language), 0) >= MIN_LANGUAGE_ENTRIES}
    return Scores(len(kept), correct, len(gold), len(found)), recall


def evaluate(tagged: Sequence[TaggedPair], units: Mapping[str, set[Unit]], gold: Gold, models: Any,
             store_dir: Path) -> Evaluation:
    """Index ``tagged`` with the configured models into a fresh embedded store (the worker's indexer)
    and collect what :func:`score` needs."""
    from webfaq_stream.settings import Settings
    from webfaq_stream.store.opener import open_store
    from webfaq_stream.worker.batch import pair_indexer

    store = open_store(Settings(qdrant_url=None, store_dir=store_dir, collection="calibrate"), models.dim,
                       models.wide_dim)
    try:
        vectors = models.pair_vectors([p.question for p in tagged], [p.answer for p in tagged])
        pair_indexer(store, models).apply(tagged, vectors)
        stored = [p for p in store.scroll(with_vectors=True) if any(u[0] in gold.files for u in units[p.id])]
    finally:
        store.close()
    labels = {p.id: set().union(*(gold.labels.get(u, set()) for u in units[p.id])) for p in stored}
    gold_links: dict[str, set[tuple[str, str, Label]]] = defaultdict(set)
    by_origin: dict[str, dict[str, set[Label]]] = defaultdict(lambda: defaultdict(set))
    sizes: dict[tuple[str, str], int] = defaultdict(int)
    for pair in stored:
        by_origin[pair.origin][pair.language] |= labels[pair.id] & gold.exact
        sizes[(pair.origin, pair.language)] += 1
    for origin, languages in by_origin.items():
        for first, second in combinations(sorted(languages), 2):
            gold_links[origin] |= {(first, second, label) for label in languages[first] & languages[second]}
    kinds = {p.origin: gold.kinds.get(p.origin, "translated") for p in stored}
    return Evaluation(candidate_links(stored, models), labels, {p.id: p.language for p in stored},
                      dict(gold_links), kinds, dict(sizes))


def _thresholds(spec: str) -> list[float]:
    try:
        start, stop, step = (float(x) for x in spec.split(":"))
    except ValueError:
        raise ConfigurationError(f"--thresholds must be START:STOP:STEP, got {spec!r}") from None
    if step <= 0 or stop < start:
        raise ConfigurationError(f"--thresholds: empty range {spec!r}")
    return [round(float(t), 4) for t in np.arange(start, stop + step / 2, step)]


def multilingual_gold(root: Path) -> tuple[list[tuple[str, str, bytes]], Gold]:
    """Pages built from a multilingual FAQ folder (:mod:`webfaq_stream.cli.multilingual`) and their
    gold: an entry's label is its site and key, every label exact."""
    from webfaq_stream.cli.multilingual import multilingual_pages

    gold = Gold()
    pages = []
    for page in multilingual_pages(root):
        name = f"{page.site}/{page.language}"
        gold.files.add(name)
        gold.kinds[origin_of(page.url)] = page.kind
        for index, key in enumerate(page.keys, start=1):
            label = (page.site, "key", key)
            gold.labels[(name, index)].add(label)
            gold.exact.add(label)
        pages.append((name, page.url, page.html))
    return pages, gold


def _rows(evaluation: Evaluation, thresholds: Sequence[float]) -> list[str]:
    lines = [(f"{'site':<28} {'kind':<10} {'threshold':>9} {'links':>6} {'correct':>7} {'precision':>9} "
             f"{'recall':>7}  lowest recall of a language with >= {MIN_LANGUAGE_ENTRIES} entries")]
    for threshold in thresholds:
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for origin in sorted(evaluation.kinds):
            result, recall = score(evaluation, origin, threshold)
            kind = evaluation.kinds[origin]
            totals[kind] = [x + y for x, y in zip(totals[kind], (result.predicted, result.correct, result.gold,
                                                               result.found))]
            worst = min(recall.items(), key=lambda item: (item[1], item[0]), default=None)
            lines.append(f"{origin.split('://')[-1]:<28} {kind:<10} {threshold:>9.3f} {result.predicted:>6} "
                         f"{result.correct:>7} {result.precision:>9.3f} {result.recall:>7.3f}"
                         + (f"  {worst[0]} {worst[1]:.3f}" if worst else ""))
        for kind, total in sorted(totals.items()):
            overall = Scores(*total)
            lines.append(f"{'(' + kind + ')':<28} {kind:<10} {threshold:>9.3f} {overall.predicted:>6} "
                         f"{overall.correct:>7} {overall.precision:>9.3f} {overall.recall:>7.3f}")
    return lines


def run(args: argparse.Namespace) -> int:
    from webfaq_stream.embed.models import load_store_models
    from webfaq_stream.settings import load_settings

    if not args.pages and not args.multilingual:
        raise ConfigurationError("give labelled pages with --gold, or --multilingual DIR")
    gold, pages = Gold(), []
    if args.pages:
        if not args.gold:
            raise ConfigurationError("--gold: required with pages")
        gold_path = Path(args.gold)
        if not gold_path.is_file():
            raise ConfigurationError(f"--gold: no such file: {gold_path}")
        questions = (Path(args.gold_questions) if args.gold_questions
                     else gold_path.with_name("ALIGNED_QUESTIONS.tsv"))
        gold = read_gold(gold_path, questions)
        inputs = [Path(p) for p in args.pages]
        missing = [str(p) for p in inputs if not p.exists()]
        if missing:
            raise ConfigurationError(f"no such page input: {', '.join(missing)}")
        pages += list(iter_pages(inputs, page_urls(gold_path.with_name("PROVENANCE.tsv"))))
    if args.multilingual:
        built, multilingual = multilingual_gold(Path(args.multilingual))
        pages += built
        gold.merge(multilingual)
    settings = load_settings()
    models = load_store_models(args.model or settings.embedding_model,
                               args.alignment_model if args.alignment_model is not None else settings.alignment_model,
                               near_duplicate_threshold=settings.near_duplicate_threshold,
                               alignment_threshold=settings.alignment_threshold,
                               device=settings.embedding_device, batch_size=settings.embedding_batch_size,
                               precision=settings.embedding_precision)
    from webfaq_stream.domain.pipeline import Pipeline

    tagged, units = tag_pages(pages, Pipeline.from_settings(settings))
    if not tagged:
        raise WebFAQError("no labelled pairs found in the inputs")
    with tempfile.TemporaryDirectory(prefix="webfaq-calibrate-") as tmp:
        evaluation = evaluate(tagged, units, gold, models, Path(tmp))
    rule = models.align_rule()
    print(f"models {models.name}: alignment threshold {rule.threshold}, pivot weight {rule.pivot_weight}, "
          f"veto {rule.veto_threshold}")
    thresholds = _thresholds(args.thresholds) if args.thresholds else [rule.threshold]
    print("\n".join(_rows(evaluation, thresholds)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="precision/recall of alignment per threshold on labelled pages",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: webfaq-stream calibrate --multilingual translated-faqs/ pages/ --gold pages/ALIGNED.tsv")
    parser.add_argument("pages", nargs="*", metavar="PAGES_OR_WARC",
                        help="HTML files, directories of them, or WARC files (with --gold)")
    parser.add_argument("--gold", default=None, help="ALIGNED.tsv with the page relations")
    parser.add_argument("--multilingual", default=None, metavar="DIR",
                        help="a folder of <site>/<language>.json translated FAQs with keys: pages are built "
                             "from it")
    parser.add_argument("--gold-questions", default=None,
                        help="topic table (default: ALIGNED_QUESTIONS.tsv beside --gold)")
    parser.add_argument("--model", default=None, help="embedding model (default: WEBFAQ_EMBEDDING_MODEL)")
    parser.add_argument("--alignment-model", default=None,
                        help="alignment model, or none (default: WEBFAQ_ALIGNMENT_MODEL)")
    parser.add_argument("--thresholds", default=None,
                        help="sweep START:STOP:STEP (default: the configured threshold alone)")
    parser.set_defaults(func=run)
