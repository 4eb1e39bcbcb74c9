"""``webfaq-stream search``: the stored pairs nearest to a text, in any language.

In: a query text, optional ``--lang`` (ISO 639-3) and ``--origin`` filters, the configured
store and embedding model. Out: the ``--limit`` nearest pairs by cosine similarity of the
query's embedding to each pair's ``question answer`` embedding, best first, as a readable list
or ``--format json``. The model is multilingual, so an English query finds German, French...
pairs too (cross-lingual). Read-only: nothing in the store changes. An embedded store held by
a running worker, a missing store or an unknown model is a one-line error (exit 2).
"""

from __future__ import annotations

import argparse
import json
import textwrap

from webfaq_stream.domain.model import StoredPair
from webfaq_stream.settings import load_settings

EXAMPLE = """\
examples:
  webfaq-stream search "How old must children be to fly?"
  webfaq-stream search "How old must children be to fly?" --lang deu --origin https://indoorskydive.lu
  webfaq-stream search "mortgage rates" --limit 3 --format json | jq '.[].question'
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "search", help="nearest stored pairs to a text (cross-lingual)",
        description=__doc__.split("\n\n", 1)[1], epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("text", help="the query: a question, or a question and answer")
    parser.add_argument("--lang", help="only pairs in this language (ISO 639-3, e.g. deu)")
    parser.add_argument("--origin", help="only pairs of this site (scheme://host)")
    parser.add_argument("--limit", type=positive_int, default=10, help="how many pairs (default 10)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output (default text)")
    parser.set_defaults(func=run)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    from webfaq_stream.store.queries import search_pairs

    hits = search_pairs(load_settings(), args.text, limit=args.limit, language=args.lang, origin=args.origin)
    print(render_hits(hits, args.format))
    return 0


def render_hits(hits: list[tuple[StoredPair, float]], fmt: str) -> str:
    """Hits as JSON (payload plus ``similarity``) or as a numbered, wrapped text list."""
    if fmt == "json":
        return json.dumps([{"similarity": round(score, 4), **pair.payload()} for pair, score in hits],
                          ensure_ascii=False, indent=2)
    if not hits:
        return "no pairs found"
    blocks = []
    for rank, (pair, score) in enumerate(hits, 1):
        aligned = ", ".join(f"{lang}:{partner.get('id', '?')[:8]}" for lang, partner in sorted(pair.aligned.items()))
        blocks.append("\n".join([
            f"{rank:>2}. {score:.3f}  [{pair.language}]  {pair.question}",
            textwrap.indent(textwrap.fill(textwrap.shorten(pair.answer, 300), 96), "      "),
            f"      {pair.url}  id {pair.id}" + (f"  aligned {aligned}" if aligned else ""),
        ]))
    return "\n".join(blocks)
