"""Dataset cards (``README.md``) of a release and of the files added to it.

- ``card(title, configs, body)`` is the one card builder: YAML front matter (licence, pretty name,
  task categories, one ``configs`` entry per :class:`CardConfig`: its splits and their file paths, so
  ``datasets.load_dataset(<dir>, "<config>")`` or the Hub load one config at a time), then a ``# title``
  heading and the body lines.
- ``dataset_card(manifest, data_files, bitext_files)`` is the release's card: one config per language
  (``data/<lang>*.parquet``) and per language pair (``bitexts/<l1>-<l2>.parquet``), each with a single
  ``train`` split; the body gives counts per language and pair, the cutoff, the model and thresholds,
  what was forgotten since the previous release, every data and bitext column with its Parquet and
  DuckDB type and its meaning (:data:`COLUMN_DOCS`, :data:`BITEXT_COLUMN_DOCS`; provenance included),
  the label models, and the licence note.
Output depends only on the arguments (deterministic).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LICENSE = "cc-by-4.0"

import pyarrow as pa

from webfaq_stream.release.writer import BITEXT_SCHEMA, DATA_SCHEMA, duckdb_type

#: What each data column holds (every ``DATA_SCHEMA`` column has an entry; a test keeps it so).
COLUMN_DOCS = {
    "id": "md5 of question + \" \" + answer (WebFAQ's id)",
    "origin": "scheme://host of the page",
    "url": "page URL (the one that sorts first when a pair was seen on several)",
    "question": "question text", "answer": "answer text",
    "title": "page title", "description": "page meta description",
    "language_score": "fastText lid.176 probability of the language",
    "near_duplicate_similarity": "highest cosine to another pair of the same site and language",
    "semantic_similarity_score": ("cosine of the question's and the answer's embeddings (WebFAQ v2), by the "
                                  "manifest's semantic_similarity_model; null in languages it does not know"),
    "first_seen": "first crawl time (UTC)", "last_seen": "last crawl time (UTC)",
    "record_id": "provenance: WARC record id (OWI record_id) of the sighting that last changed the stored pair",
    "source_topic": "provenance: Kafka topic of that sighting",
    "source_partition": "provenance: Kafka partition of that sighting",
    "source_offset": "provenance: Kafka offset of that sighting",
    "question_word_type": "WebFAQ v1 question-word type from the leading interrogative (What, When, Where, "
                          "Which, Who/Whom/Whose, Why, How, Is/are/do/does, "
                          "Can/could/will/would/may/might/shall/should, No Question Word); null outside "
                          "the covered languages",
    "topic": "topic classifier's label (WebFAQ: 8 topics); null without a topic model",
    "topic_score": "probability of `topic`",
    "question_type": "question-type classifier's label (NFQA categories); null without a model",
    "question_type_score": "probability of `question_type`",
}
#: What each bitext column holds.
BITEXT_COLUMN_DOCS = {
    "origin": "scheme://host of both pages",
    "language1": "first language (ISO 639-3; sorts before language2)", "language2": "second language",
    "similarity": "cosine of the two pairs' embeddings",
    "id1": "id of the pair in language1", "id2": "id of the pair in language2",
    "question1": "question in language1", "question2": "question in language2",
    "answer1": "answer in language1", "answer2": "answer in language2",
    "url1": "url of the pair in language1", "url2": "url of the pair in language2",
}


def _q(text: str) -> str:
    """A YAML scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _column_table(schema: pa.Schema, docs: Mapping[str, str]) -> list[str]:
    rows = ["| column | Parquet type | DuckDB type | meaning |", "|---|---|---|---|"]
    return rows + [f"| `{f.name}` | `{f.type}` | `{duckdb_type(f.type)}` | {docs.get(f.name, '')} |" for f in schema]


def _columns_section(labels: Mapping[str, Any]) -> list[str]:
    """``## Columns``: the data columns with their types, which models gave the labels, the bitext columns."""
    lines = ["## Columns", "", "`data/` files and the DuckDB table `data` (which adds `language`):", "",
             *_column_table(DATA_SCHEMA, COLUMN_DOCS), "",
             "Provenance (`record_id`, `source_*`) names the sighting that last changed the stored pair: a",
             "re-crawl that changes nothing is not written, so it does not move the provenance.", ""]
    for name in ("topic", "question_type"):
        entry = labels.get(name) or {}
        source = (f"model `{entry['model']}`" if entry.get("model")
                  else f"no model ({entry.get('reason', 'unknown')})")
        lines.append(f"- `{name}`: {source}; {entry.get('pairs', 0):,} pairs labelled")
    words = labels.get("question_word_type") or {}
    covered = ", ".join(sorted(words.get("languages") or {})) or "none"
    lines += [f"- `question_word_type`: {words.get('pairs', 0):,} pairs; languages {covered}", "",
              "`bitexts/` files and the DuckDB table `bitexts`:", "", *_column_table(BITEXT_SCHEMA, BITEXT_COLUMN_DOCS), ""]
    return lines


@dataclass(frozen=True, slots=True)
class CardConfig:
    """One ``configs`` entry: a name and its splits, each one path or a list of paths."""

    name: str
    splits: Sequence[tuple[str, str | Sequence[str]]]

    def yaml_lines(self) -> list[str]:
        lines = [f"- config_name: {_q(self.name)}", "  data_files:"]
        for split, paths in self.splits:
            lines.append(f"  - split: {split}")
            if isinstance(paths, str):
                lines.append(f"    path: {_q(paths)}")
            else:
                lines += ["    path:", *(f"    - {_q(path)}" for path in paths)]
        return lines


def card(title: str, configs: Sequence[CardConfig], body: Sequence[str], *,
         task_categories: Sequence[str] = ()) -> str:
    """A dataset card: front matter with ``configs``, a heading, the body lines (module docstring)."""
    lines = ["---", f"license: {LICENSE}", f"pretty_name: {_q(title)}"]
    if task_categories:
        lines += ["task_categories:", *(f"- {category}" for category in task_categories)]
    lines.append("configs:")
    for config in configs:
        lines += config.yaml_lines()
    return "\n".join([*lines, "---", "", f"# {title}", "", *body, ""])


def dataset_card(manifest: Mapping[str, Any], data_files: Mapping[str, Sequence[str]],
                 bitext_files: Mapping[str, str], *, extra_sections: Sequence[str] = ()) -> str:
    """The card's Markdown; ``extra_sections`` (Markdown lines, before the licence) describe files
    added to a release later (``webfaq-stream mine-negatives``)."""
    counts: Mapping[str, int] = manifest["counts"]
    bitext_counts: Mapping[str, int] = manifest["bitext_counts"]
    model: Mapping[str, Any] = manifest.get("model") or {}
    cutoff: Mapping[str, Any] = manifest.get("cutoff") or {}
    title = f"WebFAQ stream release {manifest['release_id']}"
    configs = [CardConfig(language, [("train", [f"data/{name}" for name in sorted(files)])])
               for language, files in sorted(data_files.items())]
    configs += [CardConfig(pair_name, [("train", f"bitexts/{file_name}")])
                for pair_name, file_name in sorted(bitext_files.items())]
    lines = [
        "Question-answer pairs extracted from schema.org `FAQPage` markup, cleaned with WebFAQ's rules,",
        "language-tagged with fastText lid.176 (ISO 639-3), deduplicated by id (md5 of question + answer),",
        "with near-duplicate similarity and cross-lingual alignments within each site.", "",
        (f"- Cut at **{cutoff.get('time')}** ({manifest.get('consistency')}); Kafka offsets covered: "
        f"`{json.dumps(cutoff.get('offsets') or {}, sort_keys=True)}`"),
        (f"- {manifest['pairs']:,} pairs in {len(counts)} languages; {manifest['bitexts']:,} aligned pairs "
        f"in {len(bitext_counts)} language pairs"),
        (f"- Embedding model `{model.get('name')}`; near-duplicate threshold "
        f"{model.get('near_duplicate_threshold')}, alignment threshold {model.get('alignment_threshold')}"),
        (f"- `semantic_similarity_score` (WebFAQ v2): cosine of the question's and the answer's embeddings "
         f"by `{model.get('semantic_similarity_model', model.get('name'))}`, empty in languages it does not know"),
    ]
    previous = manifest.get("previous")
    if previous and "added" in previous:
        lines.append(f"- Since {previous['release_id']}: {previous['added']:,} added, "
                     f"{previous['updated']:,} updated, {previous['removed']:,} removed")
    forgotten = manifest.get("forgotten") or {}
    if forgotten.get("tombstones"):
        lines.append(f"- Forgotten on request since the previous release: {len(forgotten['tombstones'])} "
                     f"origin(s) or URL(s), {(forgotten.get('removed') or {}).get('pairs', 0):,} of its pairs "
                     "removed (ids in `manifest.json`, `forgotten`)")
    lines += ["", "## Loading", "", "```python", "import datasets",
              "deu = datasets.load_dataset(\"<this directory or repo>\", \"deu\", split=\"train\")",
              "```", "", "```sql", "-- DuckDB",
              "SELECT language, count(*) FROM 'webfaq.duckdb'.data GROUP BY ALL;",
              "SELECT * FROM read_parquet('data/deu*.parquet') LIMIT 5;", "```", "",
              "A consumer who wants WebFAQ v1's filtering drops pairs whose `near_duplicate_similarity` is",
              "at or above the near-duplicate threshold.", "",
              *_columns_section(manifest.get("labels") or {}),
              "## Pairs per language", "", "| language | pairs |", "|---|---:|"]
    lines += [f"| {language} | {n:,} |" for language, n in sorted(counts.items())]
    lines += ["", "## Aligned pairs per language pair", "", "| pair | bitexts |", "|---|---:|"]
    lines += [f"| {pair} | {n:,} |" for pair, n in sorted(bitext_counts.items())]
    lines += ["", *extra_sections] if extra_sections else []
    lines += ["", "## Licence", "", manifest.get("license", "")]
    return card(title, configs, lines, task_categories=("question-answering", "sentence-similarity"))
