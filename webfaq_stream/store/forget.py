"""Forgetting origins and URLs (takedowns): tombstones kept in the store, pairs removed, partners re-aligned.

``forget(store, indexer, targets, reason, now) -> ForgetReport``:

1. records ``targets`` as pending tombstones in the store's :data:`TOMBSTONES_KEY` meta document (a
   target already forgotten keeps its first entry, so forgetting again changes nothing: idempotent);
   from then on the worker keeps later crawls of those origins and URLs out;
2. completes every pending tombstone, those of this call and any an interrupted run left: the pairs
   of each forgotten origin (read through the ``origin`` payload index), or of its origin found at a
   forgotten URL, are removed by :meth:`PairIndexer.remove` (their partners re-aligned and their
   groups' near-duplicate similarities recomputed, as a batch computation without them gives), and
   each tombstone records how many pairs it removed.

Tombstones are written with a new :data:`VERSION_KEY` document in the same store operation;
:class:`TombstoneCache` re-reads them only when that version changed (the worker asks twice a batch:
one small read instead of parsing every tombstone).

Run it where writes to the store are serialised: inside the worker's ``gate.batch()``, or in a
process that owns the store. :func:`complete_pending` is step 2 alone (the worker runs it at start,
so a forget interrupted by a crash is finished). A store failure is raised as ``StoreError``; what
was done stays done and a repeated call finishes the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from webfaq_stream.domain.ids import origin_of
from webfaq_stream.domain.tombstones import ORIGIN, Target, Tombstones
from webfaq_stream.ports import PairStore
from webfaq_stream.store.indexer import PairIndexer

TOMBSTONES_KEY = "tombstones"
VERSION_KEY = "tombstones_version"


@dataclass
class ForgetReport:
    """What one call did: the tombstones it added, and the pairs removed per target (with their ids)."""

    added: list[str] = field(default_factory=list)
    removed: dict[str, int] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "removed_total": len(self.ids), "ids": self.ids}


def read_tombstones(store: PairStore) -> Tombstones:
    """The store's tombstones (none when the document does not exist)."""
    return Tombstones.from_meta(store.get_meta(TOMBSTONES_KEY))


def write_tombstones(store: PairStore, tombstones: Tombstones) -> None:
    """Replace the store's tombstones, with a new version, in one store operation."""
    store.upsert([], meta={TOMBSTONES_KEY: tombstones.as_meta(), VERSION_KEY: {"version": uuid.uuid4().hex}})


class TombstoneCache:
    """The store's tombstones, read again only when their version changed (the same object otherwise)."""

    def __init__(self) -> None:
        self._version: str | None = None
        self._tombstones = Tombstones()

    def current(self, store: PairStore) -> Tombstones:
        version = (store.get_meta(VERSION_KEY) or {}).get("version")
        if version != self._version:
            self._tombstones, self._version = read_tombstones(store), version
        return self._tombstones


def forget(store: PairStore, indexer: PairIndexer, targets: Sequence[Target], reason: str, now: str) -> ForgetReport:
    """Steps 1 and 2 of the module docstring; ``now`` is the tombstones' time (ISO-8601 UTC)."""
    before = read_tombstones(store)
    tombstones = before.adding(targets, reason, now)
    added = [target.value for target in targets if target.value not in before.entries]
    if added:
        write_tombstones(store, tombstones)
    report = complete_pending(store, indexer, tombstones)
    report.added = added
    return report


def complete_pending(store: PairStore, indexer: PairIndexer, tombstones: Tombstones | None = None) -> ForgetReport:
    """Remove the pairs of every pending tombstone and mark them done (step 2)."""
    tombstones = tombstones if tombstones is not None else read_tombstones(store)
    pending = tombstones.pending()
    report = ForgetReport()
    if not pending:
        return report
    matched: dict[str, str] = {}  # pair id -> the first pending target that covers it
    for target in pending:
        entry = tombstones.entries[target]
        origin = target if entry.kind == ORIGIN else origin_of(target)
        for pair in store.origin_pairs(origin, with_vectors=False):
            if entry.kind == ORIGIN or pair.url == target:
                matched.setdefault(pair.id, target)
    indexer.remove(sorted(matched))
    report.removed = {target: sum(1 for t in matched.values() if t == target) for target in pending}
    report.ids = sorted(matched)
    latest = read_tombstones(store)  # re-read: keeps tombstones another process added meanwhile
    write_tombstones(store, latest.completed(
        {target: n for target, n in report.removed.items() if target in latest.entries}))
    return report
