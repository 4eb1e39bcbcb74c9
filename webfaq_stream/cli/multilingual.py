"""FAQPage pages built from a folder of translated FAQs, with the key that says which entries are
translations of each other (``<site>/<language>.json`` files; the folder is read at run time).

``multilingual_pages(root) -> list[MultilingualPage]``: one page per ``<site>/<language>.json`` (a
list of ``{"key", "question", "answer"}``), in sorted order: a JSON-LD FAQPage of its entries in
file order (the markup is ours: answers' line breaks as ``<br>``), URL
``https://<site>.example/<language>/faq`` (the language path segment real multilingual sites have),
and ``kind`` from ``SOURCES.tsv`` (``translated`` or ``localized``; ``translated`` if not stated).
``keys[i]`` is the key of the page's ``i``-th entry. Raises ``ConfigurationError`` for a folder
without sites or an unreadable file.
"""

from __future__ import annotations

import csv
import html
import json
from dataclasses import dataclass
from pathlib import Path

from webfaq_stream.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class MultilingualPage:
    site: str
    kind: str
    language: str
    url: str
    html: bytes
    keys: tuple[str, ...]


def site_kinds(root: Path) -> dict[str, str]:
    """Site -> ``translated`` | ``localized`` from ``SOURCES.tsv`` (column ``translated_or_localized``)."""
    path = root / "SOURCES.tsv"
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return {row["site"]: ("localized" if "localized" in (row.get("translated_or_localized") or "").lower()
                          else "translated") for row in rows if row.get("site")}


def faq_page_html(language: str, entries: list[dict]) -> bytes:
    """A minimal page with one JSON-LD FAQPage holding ``entries`` in order."""
    def markup(text: str) -> str:
        return "<br>".join(html.escape(line) for line in text.split("\n"))

    document = {"@context": "https://schema.org", "@type": "FAQPage", "mainEntity": [
        {"@type": "Question", "name": entry["question"],
         "acceptedAnswer": {"@type": "Answer", "text": markup(entry["answer"])}} for entry in entries]}
    block = json.dumps(document, ensure_ascii=False).replace("</", "<\\/")
    return (f'<!doctype html><html lang="{html.escape(language)}"><head><meta charset="utf-8"><title>FAQ</title>'
            f'<script type="application/ld+json">{block}</script></head><body></body></html>').encode()


def multilingual_pages(root: Path) -> list[MultilingualPage]:
    """The pages of every site under ``root`` (module contract)."""
    kinds = site_kinds(root)
    pages = []
    for site_dir in sorted(p for p in Path(root).iterdir() if p.is_dir()) if Path(root).is_dir() else []:
        for path in sorted(site_dir.glob("*.json")):
            try:
                entries = json.loads(path.read_text(encoding="utf-8"))
                keys = tuple(str(entry["key"]) for entry in entries)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ConfigurationError(f"unreadable multilingual FAQ file {path}: {exc}") from exc
            language = path.stem
            pages.append(MultilingualPage(site_dir.name, kinds.get(site_dir.name, "translated"), language,
                                          f"https://{site_dir.name}.example/{language.lower()}/faq",
                                          faq_page_html(language, entries), keys))
    if not pages:
        raise ConfigurationError(f"no <site>/<language>.json files under {root}")
    return pages
