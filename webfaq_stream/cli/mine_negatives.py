"""``webfaq-stream mine-negatives RELEASE``: retrieval splits and hard negatives into a release.

In: a release (id, ``latest`` or a path; ``--release-dir`` or ``WEBFAQ_RELEASE_DIR`` to resolve an
id), the languages (``--lang``, repeatable; default all), the scorer (``--scorer``: default the
release's embedding model; ``embedding:<model>`` or ``cross-encoder:<name or path>``) and the mining
parameters. Out: ``retrieval/<lang>/`` and ``hard_negatives/<lang>.jsonl.gz`` written into the
release, its manifest and dataset card updated (see ``webfaq_stream.negatives.release``); one line
per language on stdout (queries, mined, reused, extended, negatives, mined+extended queries/s). Exit 0; errors exit 2.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from webfaq_stream.errors import ConfigurationError
from webfaq_stream.negatives.mining import MiningParams
from webfaq_stream.negatives.splits import DEFAULT_MAX_TEST_QUERIES, DEFAULT_TEST_FRACTION
from webfaq_stream.settings import load_settings

EXAMPLE = """\
examples:
  webfaq-stream mine-negatives latest
  webfaq-stream mine-negatives 2026-11-22T031500Z --lang deu --lang eng --margin 0.1
  webfaq-stream mine-negatives latest --scorer cross-encoder:/models/bge-reranker-v2-m3
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mine-negatives", help="write retrieval splits and BM25+rescored hard negatives into a release",
        description=__doc__.split("\n\n", 1)[1], epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = MiningParams()
    parser.add_argument("release", metavar="RELEASE", help="release id, 'latest' or a release directory")
    parser.add_argument("--release-dir", type=Path, help="releases directory (WEBFAQ_RELEASE_DIR)")
    parser.add_argument("--lang", action="append", metavar="L", help="language (ISO 639-3); repeatable")
    parser.add_argument("--scorer", help="embedding:<model> or cross-encoder:<name or path> "
                                         "(default: the release's embedding model)")
    parser.add_argument("--top-k", type=int, default=defaults.top_k, help="BM25 candidates per query")
    parser.add_argument("--margin", type=float, default=defaults.margin,
                        help="drop candidates scoring above positive_score - margin (false negatives)")
    parser.add_argument("--keep", type=int, default=defaults.keep, help="negatives kept per query (best first)")
    parser.add_argument("--min-score", type=float, default=defaults.min_score,
                        help="drop candidates scoring below this (easy negatives; default off)")
    parser.add_argument("--test-fraction", type=float, default=DEFAULT_TEST_FRACTION,
                        help="share of origins that are test origins")
    parser.add_argument("--max-test-queries", type=int, default=DEFAULT_MAX_TEST_QUERIES,
                        help="at most this many test queries (one per test origin)")
    parser.add_argument("--no-reuse", action="store_true", help="mine every query again")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before any model library is imported
    from webfaq_stream.negatives.release import mine_release
    from webfaq_stream.release.layout import resolve_release

    release_dir = args.release_dir or load_settings().release_dir
    path = resolve_release(Path(release_dir), args.release)
    try:
        params = MiningParams(top_k=args.top_k, margin=args.margin, keep=args.keep, min_score=args.min_score)
        if not 0.0 <= args.test_fraction < 1.0 or args.max_test_queries < 0:
            raise ValueError("--test-fraction must be in [0, 1) and --max-test-queries >= 0")
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    result = mine_release(path, languages=args.lang, scorer=args.scorer, params=params,
                          test_fraction=args.test_fraction, max_test_queries=args.max_test_queries,
                          reuse=not args.no_reuse)
    print(f"{'language':<10} {'corpus':>8} {'train':>8} {'test':>6} {'mined':>8} {'reused':>8} "
          f"{'extended':>8} {'negatives':>10} {'queries/s':>10}")
    for language, stats in sorted(result.stats.items()):
        split = result.retrieval[language]
        rate = (stats.mined + stats.extended) / result.seconds[language] if result.seconds[language] > 0 else 0.0
        print(f"{language:<10} {split['corpus']:>8,} {split['train']:>8,} {split['test']:>6,} "
              f"{stats.mined:>8,} {stats.reused:>8,} {stats.extended:>8,} {stats.negatives:>10,} {rate:>10,.1f}")
    print(f"written into {path}")
    return 0
