"""Nightly, point-in-time, versioned releases of the store (README, "Releases").

``write_release(store, settings)`` writes ``<release_dir>/<release_id>/`` with
``data/<lang>[-NNNNN].parquet``, ``bitexts/<l1>-<l2>.parquet``, ``webfaq.duckdb`` (tables ``data``
and ``bitexts``), ``manifest.json`` and a ``README.md`` dataset card, and returns a
``ReleaseResult``; ``release_now(settings)`` does it for the configured store (or asks the worker
that holds the embedded store). Guarantees:

- Point in time: with a store that gives cuts (``ports.PointInTimeSource``: the worker's
  ``ReleaseGate``) the release is the store as of one cut between two batches, with that moment's
  checkpoint offsets; the worker is paused only for the cut itself
  (``manifest["timings"]["worker_paused_s"]``). Without a gate the caller must
  own the store (embedded: one process) or accept ``consistency = "at-least-cutoff"`` (a Qdrant
  server written by other processes: every pair before the cutoff is present, later ones may be).
  In every case every bitext id is in ``data/`` and the counts equal the manifest.
- Deterministic: rows sorted by id; Parquet files byte-identical for an unchanged store.
- Atomic: written to a dot-prefixed temporary directory and renamed into place; stale
  temporary directories are removed by the next run; one release at a time (``ReleaseLock``);
  old releases pruned to ``settings.release_retention``.
- Streaming: pairs are scrolled in pages and written per language; only aligned pairs are
  kept in memory (to build the bitexts).
- Takedowns: pairs of forgotten origins and URLs (the store's tombstones, read after the cut) are
  left out of every file, even one a concurrent writer brought back; ``manifest["forgotten"]``
  lists the tombstones recorded since the previous release and the ids (per language) of that
  release's pairs they removed.
Every failure is a ``ReleaseError`` (or the store's ``StoreError``); nothing half-written stays visible.
"""

from __future__ import annotations

import gc
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Self

from tqdm import tqdm

from webfaq_stream.domain.align import bitext_rows
from webfaq_stream.domain.model import iso_time, utc_now
from webfaq_stream.domain.question_words import question_words
from webfaq_stream.domain.tombstones import Tombstones
from webfaq_stream.embed.models import model_defaults
from webfaq_stream.errors import ModelError, ReleaseError, StoreLockedError
from webfaq_stream.ports import PairStore, PointInTimeSource, StoreView
from webfaq_stream.release.card import dataset_card
from webfaq_stream.release.diff import covered_ids, diff_releases
from webfaq_stream.release.layout import (
    ReleaseLock,
    clean_stale,
    list_releases,
    prune,
    publish,
    release_id_for,
    temp_dir_for,
)
from webfaq_stream.release.manifest import (
    LABELLERS_KEY,
    build_manifest,
    file_entries,
    read_manifest,
    write_manifest,
)
from webfaq_stream.release.schedule import ReleaseScheduler, submit_request, wait_for_answer
from webfaq_stream.release.scroll import read_ahead
from webfaq_stream.release.writer import (
    DataWriter,
    build_database,
    data_file_language,
    safe_language,
    write_bitexts,
)
from webfaq_stream.settings import Settings
from webfaq_stream.store.forget import read_tombstones
from webfaq_stream.store.gate import CHECKPOINT_KEY, ReleaseGate
from webfaq_stream.store.opener import open_store
from webfaq_stream.store.pages import payload_pages

__all__ = ["ReleaseGate", "ReleaseResult", "ReleaseScheduler", "release_now", "scheduled_releases",
           "summary_table", "write_release"]

SCROLL_PAGE = 5_000


@dataclass(frozen=True)
class ReleaseResult:
    """A published release: where it is and what it holds."""

    path: Path
    release_id: str
    counts: dict[str, int]
    bitext_counts: dict[str, int]
    manifest: dict[str, Any]
    pruned: list[str] = field(default_factory=list)

    @classmethod
    def from_path(cls, path: Path) -> ReleaseResult:
        """The result of a finished release, read back from its manifest."""
        manifest = read_manifest(Path(path))
        return cls(path=Path(path), release_id=manifest["release_id"], counts=dict(manifest["counts"]),
                   bitext_counts=dict(manifest["bitext_counts"]), manifest=manifest)


class _OwnedStoreView:
    """The store read directly: consistent when nobody else writes it (see ``write_release``)."""

    paused_s = 0.0
    waited_s = 0.0

    def __init__(self, store: PairStore) -> None:
        self._store = store
        self.checkpoint = store.get_meta(CHECKPOINT_KEY)

    def payload_pages(self, batch_size: int = SCROLL_PAGE) -> Iterator[list[dict[str, Any]]]:
        return payload_pages(self._store, batch_size)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _consistency(store: PairStore, settings: Settings) -> str:
    if isinstance(store, PointInTimeSource):
        return "snapshot" if settings.qdrant_url is None else "snapshot-of-this-process-writes"
    return "exclusive" if settings.qdrant_url is None else "at-least-cutoff"


def _model_info(store: PairStore, settings: Settings, model: Mapping[str, Any] | None) -> dict[str, Any]:
    if model is None:
        try:
            model = store.get_meta("model")
        except Exception:  # noqa: BLE001 - model meta is optional; fall back to the settings
            model = None
    info: dict[str, Any] = {"name": settings.embedding_model,
                            "semantic_similarity_model": settings.embedding_model,
                            "near_duplicate_threshold": settings.near_duplicate_threshold,
                            "alignment_threshold": settings.alignment_threshold}
    try:
        defaults = model_defaults(settings.embedding_model)
    except ModelError:
        defaults = None
    if defaults is not None:
        for name in ("near_duplicate_threshold", "alignment_threshold"):
            if info[name] is None:
                info[name] = getattr(defaults, name)
    info.update(dict(model or {}))
    return info


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (back on after, if it was on).

    A release's scroll turns every stored pair into fresh dicts (a million for 1M pairs): they are
    freed by reference counting, but their allocation alone triggers collections that re-walk every
    live object, which cost a quarter of the scroll's CPU. Process-wide: in a worker the batch thread
    runs without collections for the scroll's duration too (its garbage is collected after).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class AlignedPair(NamedTuple):
    """An aligned pair as the bitexts need it: a tuple of the payload's own values (the scroll's
    payload dicts belong to the caller, so nothing is copied)."""

    id: str
    origin: str
    url: str
    language: str
    question: str
    answer: str
    aligned: dict[str, dict[str, Any]]

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> AlignedPair:
        return cls(payload["id"], payload.get("origin") or "", payload.get("url") or "",
                   safe_language(payload.get("language")), payload.get("question") or "",
                   payload.get("answer") or "", payload.get("aligned") or {})


#: Each published label and the payload field that says where it came from.
_LABEL_SOURCES = {"topic": "topic_model", "question_type": "question_type_model",
                  "question_word_type": "question_word_type"}


def _labels_info(store: PairStore, labelled: Counter[tuple[str, str]]) -> dict[str, Any]:
    """The manifest's ``labels``: per classifier the model the worker ran (or ``None`` and why, from
    the store's ``labellers`` meta) and the labelled pairs per model; the question-word type's
    covered languages (their measured accuracy) and its labelled pairs per class."""
    try:
        meta = store.get_meta(LABELLERS_KEY) or {}
    except Exception:  # noqa: BLE001 - the meta is informational; the counts below are exact
        meta = {}
    info: dict[str, Any] = {}
    for name in ("topic", "question_type"):
        entry = dict(meta.get(name)
                     or {"model": None, "reason": "no worker recorded its classifiers in this store"})
        by_model = {model: n for (field, model), n in sorted(labelled.items()) if field == name}
        info[name] = {**entry, "pairs": sum(by_model.values()), "by_model": by_model}
    by_class = {cls: n for (field, cls), n in sorted(labelled.items()) if field == "question_word_type"}
    info["question_word_type"] = {"languages": dict(sorted(question_words().coverage.items())),
                                  "pairs": sum(by_class.values()), "by_class": by_class}
    return info


def _stream_data(pages: Iterable[list[dict[str, Any]]], writer: DataWriter, total: int | None,
                 progress: bool, labelled: Counter[tuple[str, str]], tombstones: Tombstones) -> list[AlignedPair]:
    """Write every page to ``writer`` but the forgotten pairs; returns the aligned pairs (the bitexts'
    input) and counts in ``labelled`` the pairs per ``(label field, model)``."""
    aligned: list[AlignedPair] = []
    with tqdm(total=total, unit="pair", desc="release data", file=sys.stderr, disable=not progress,
              mininterval=0.5, unit_scale=True) as bar:
        for page in pages:
            if tombstones.entries:
                page = [p for p in page if not tombstones.covers(p.get("origin") or "", p.get("url") or "")]
            writer.add_page(page)
            aligned.extend(AlignedPair.from_payload(payload) for payload in page if payload.get("aligned"))
            labelled.update((name, model) for payload in page for name in _LABEL_SOURCES
                            if isinstance(model := payload.get(_LABEL_SOURCES[name]), str))
            bar.update(len(page))
    return aligned


def write_release(store: PairStore, settings: Settings, *, model: dict | None = None,
                  progress: bool = True, lock_timeout_s: float = 0.0) -> ReleaseResult:
    """Write one release of ``store`` under ``settings.release_dir`` (module docstring).

    ``model`` (name and thresholds) defaults to the store's ``model`` meta, then the settings.
    Raises ``ReleaseError`` when another release holds the lock past ``lock_timeout_s``.
    """
    release_dir = Path(settings.release_dir)
    started = time.monotonic()
    timings: dict[str, float] = {}
    with ReleaseLock(release_dir, timeout_s=lock_timeout_s):
        clean_stale(release_dir)
        previous_ids = list_releases(release_dir)
        total = _safe_count(store)
        view: StoreView = (
            store.cut() if isinstance(store, PointInTimeSource) else _OwnedStoreView(store))
        cut_at = utc_now()
        release_id = release_id_for(cut_at, release_dir)
        temp_dir = temp_dir_for(release_dir, release_id)
        try:
            with view, gc_paused():
                timings["worker_paused_s"] = view.paused_s
                timings["cut_waited_s"] = view.waited_s
                tombstones = read_tombstones(store)
                writer = DataWriter(temp_dir, settings.release_part_rows)
                labelled: Counter[tuple[str, str]] = Counter()
                aligned = _stream_data(read_ahead(view.payload_pages(SCROLL_PAGE)), writer, total, progress,
                                       labelled, tombstones)
                data_files = writer.close()
            timings["data_s"] = time.monotonic() - started
            mark = time.monotonic()
            bitext_files = write_bitexts(temp_dir, bitext_rows(aligned))
            del aligned
            timings["bitexts_s"] = time.monotonic() - mark
            mark = time.monotonic()
            build_database(temp_dir / "webfaq.duckdb",
                           {lang: [temp_dir / "data" / name for name in files] for lang, files in data_files.items()},
                           [temp_dir / "bitexts" / name for name in bitext_files])
            timings["duckdb_s"] = time.monotonic() - mark
            counts = {lang: sum(files.values()) for lang, files in data_files.items()}
            bitext_counts = {name.removesuffix(".parquet"): n for name, n in bitext_files.items()}
            previous = None
            if previous_ids:
                mark = time.monotonic()
                try:
                    previous = diff_releases(release_dir / previous_ids[-1], temp_dir)
                except ReleaseError as exc:  # an unreadable old release must not block a new one
                    previous = {"release_id": previous_ids[-1], "error": str(exc)}
                timings["diff_s"] = time.monotonic() - mark
            checkpoint = view.checkpoint or {}
            cutoff = {"time": iso_time(cut_at), "offsets": dict(checkpoint.get("offsets") or {}),
                      "batch_seq": checkpoint.get("batch_seq"),
                      "checkpoint_time": checkpoint.get("time")}
            manifest_args: dict[str, Any] = {
                "release_id": release_id, "created": iso_time(utc_now()), "cutoff": cutoff,
                "consistency": _consistency(store, settings), "counts": counts, "bitext_counts": bitext_counts,
                "model": _model_info(store, settings, model), "labels": _labels_info(store, labelled),
                "previous": previous, "timings": timings,
                "forgotten": _forgotten(tombstones, release_dir / previous_ids[-1] if previous_ids else None)}
            card = dataset_card(build_manifest(files={}, **manifest_args),
                                {lang: list(files) for lang, files in data_files.items()},
                                {name.removesuffix(".parquet"): name for name in bitext_files})
            (temp_dir / "README.md").write_text(card)
            rows = {f"data/{name}": n for files in data_files.values() for name, n in files.items()}
            rows.update({f"bitexts/{name}": n for name, n in bitext_files.items()})
            timings["total_s"] = time.monotonic() - started
            manifest = build_manifest(files=file_entries(temp_dir, rows), **manifest_args)
            write_manifest(temp_dir, manifest)
            publish(temp_dir, release_dir / release_id)
        except BaseException:
            shutil.rmtree(temp_dir, ignore_errors=True)
            raise
        pruned = prune(release_dir, settings.release_retention)
    return ReleaseResult(path=release_dir / release_id, release_id=release_id, counts=counts,
                         bitext_counts=bitext_counts, manifest=manifest, pruned=pruned)


def _forgotten(tombstones: Tombstones, previous: Path | None) -> dict[str, Any]:
    """The manifest's ``forgotten``: tombstones since the previous release, and the ids of its pairs
    that the tombstones removed (``{"pairs", "by_language": {lang: {"pairs", "ids"}}}``)."""
    since = None
    ids: dict[str, list[str]] = {}
    if previous is not None:
        try:
            since = (read_manifest(previous).get("cutoff") or {}).get("time")
            ids = covered_ids(previous, tombstones.origins, tombstones.urls)
        except ReleaseError as exc:  # an unreadable old release must not block a new one
            return {"tombstones": {t: e.as_meta() for t, e in tombstones.since(None).items()}, "error": str(exc)}
    return {"tombstones": {target: entry.as_meta() for target, entry in tombstones.since(since).items()},
            "removed": {"pairs": sum(map(len, ids.values())),
                        "by_language": {lang: {"pairs": len(found), "ids": found} for lang, found in ids.items()}}}


def scheduled_releases(gate: ReleaseGate, settings: Settings, *, model: dict | None = None,
                       poll_s: float = 1.0) -> ReleaseScheduler:
    """For the worker: a started scheduler thread releasing ``gate``'s store on schedule and on request.

    The worker keeps writing through ``gate`` inside ``with gate.batch():``; call ``stop()`` at
    shutdown (it finishes a release in progress first).
    """
    scheduler = ReleaseScheduler(
        settings, lambda: write_release(gate, settings, model=model, progress=False),
        poll_s=poll_s)
    scheduler.start()
    return scheduler


def release_now(settings: Settings, *, progress: bool = False, wait_s: float = 1800.0,
                on_request: Callable[[str], None] | None = None) -> ReleaseResult:
    """One release of the configured store, now: written by this process when it can open the store;
    when the embedded store is held by a running worker (``StoreLockedError``), asked of that worker
    through a request in ``<release_dir>/.requests/`` (``on_request(request_id)`` is called) and waited
    for up to ``wait_s`` seconds. With a Qdrant server any process writes its own release."""
    try:
        store = open_store(settings)
    except StoreLockedError:
        request_id = submit_request(settings.release_dir)
        if on_request is not None:
            on_request(request_id)
        answer = wait_for_answer(settings.release_dir, request_id, wait_s)
        return ReleaseResult.from_path(Path(answer["path"]))
    try:
        return write_release(store, settings, progress=progress)
    finally:
        store.close()


def _safe_count(store: PairStore) -> int | None:
    try:
        return store.count()
    except Exception:  # noqa: BLE001 - only sizes the progress bar
        return None


def human_bytes(size: float) -> str:
    """``1.5 MB`` style size (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def summary_table(result: ReleaseResult) -> str:
    """A plain-text summary: pairs and bytes per language, bitexts per pair, totals and time."""
    files = result.manifest.get("files", {})
    lines = [f"release {result.release_id} -> {result.path}",
             f"{'language':<12} {'pairs':>12} {'size':>12}"]
    for language, n in sorted(result.counts.items()):
        size = sum(e["bytes"] for rel, e in files.items() if data_file_language(rel) == language)
        lines.append(f"{language:<12} {n:>12,} {human_bytes(size):>12}")
    lines.append(f"{'total':<12} {sum(result.counts.values()):>12,}")
    if result.bitext_counts:
        lines.append(f"{'bitexts':<12} {'pairs':>12} {'size':>12}")
        for name, n in sorted(result.bitext_counts.items()):
            size = files.get(f"bitexts/{name}.parquet", {}).get("bytes", 0)
            lines.append(f"{name:<12} {n:>12,} {human_bytes(size):>12}")
    total_bytes = sum(e["bytes"] for e in files.values())
    timings = result.manifest.get("timings", {})
    previous = result.manifest.get("previous")
    lines.append(f"files {len(files)}, {human_bytes(total_bytes)}; written in {timings.get('total_s', 0):.2f} s"
                 f" (worker paused {timings.get('worker_paused_s', 0) * 1000:.2f} ms)")
    if previous and "added" in previous:
        lines.append(f"since {previous['release_id']}: +{previous['added']:,} added, "
                     f"{previous['updated']:,} updated, -{previous['removed']:,} removed")
    if result.pruned:
        lines.append("pruned: " + ", ".join(result.pruned))
    return "\n".join(lines)
