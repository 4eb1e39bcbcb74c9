"""``webfaq-stream config``: print the effective configuration, secrets masked.

In: the environment (``WEBFAQ_*``) and the TOML file named by ``WEBFAQ_CONFIG``. Out, on
stdout, one of: ``toml`` (default; a file you can point ``WEBFAQ_CONFIG`` at), ``json`` or
``env`` (``export WEBFAQ_...=`` lines for a shell or an env file). Secrets that are set are
never printed: ``json`` shows ``********``, ``toml`` and ``env`` write them as a comment so
that the output can be reused without planting a fake password. ``--sources`` tells where
each value came from. Exit 0; an invalid configuration exits 2 with every bad variable named.
"""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

import tomli_w

from webfaq_stream.settings import MASK, SECRET_FIELDS, Settings, env_name, load_settings, value_sources

EXAMPLE = """\
examples:
  webfaq-stream config                       # effective settings as TOML
  WEBFAQ_BATCH_SIZE=256 webfaq-stream config --format env
  webfaq-stream config --format toml > webfaq.toml && export WEBFAQ_CONFIG=$PWD/webfaq.toml
  webfaq-stream config --format json --sources | jq .sources
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "config", help="print the effective configuration (secrets masked)",
        description=__doc__.split("\n\n", 1)[1], epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", choices=("toml", "json", "env"), default="toml",
                        help="output format (default: toml)")
    parser.add_argument("--sources", action="store_true",
                        help="also say where each value came from (env, file, default)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    print(render(settings, args.format, sources=args.sources), end="")
    return 0


def render(settings: Settings, fmt: str, sources: bool = False) -> str:
    """The configuration as ``toml``, ``json`` or ``env`` text (ends with a newline)."""
    values = settings.masked()
    origin = value_sources(settings) if sources else {}
    if fmt == "json":
        document: dict[str, Any] = {"settings": values}
        if sources:
            document["sources"] = origin
        return json.dumps(document, indent=2, sort_keys=False) + "\n"
    lines = []
    for name, value in values.items():
        note = f"  # from {origin[name]}" if sources else ""
        if name in SECRET_FIELDS and value == MASK:
            lines.append(f"# {_key(name, fmt)} is set (hidden){note}")
        elif value is None or (name in SECRET_FIELDS and value == ""):
            lines.append(f"# {_key(name, fmt)} is unset{note}")
        elif fmt == "toml":
            lines.append(tomli_w.dumps({name: value}).rstrip("\n") + note)
        else:
            text = str(value).lower() if isinstance(value, bool) else str(value)
            lines.append(f"export {env_name(name)}={shlex.quote(text)}{note}")
    return "\n".join(lines) + "\n"


def _key(name: str, fmt: str) -> str:
    return name if fmt == "toml" else env_name(name)
