"""A release taken while a worker thread keeps writing is the store exactly as of its cutoff."""

from __future__ import annotations

import copy
import dataclasses
import random
import threading
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from test_release_support import fixture_pairs, make_pair, open_store

from webfaq_stream.domain.align import bitext_rows
from webfaq_stream.release.build import ReleaseGate, write_release
from webfaq_stream.release.writer import DATA_SCHEMA, data_rows
from webfaq_stream.settings import Settings

PRELOAD_ROUNDS = 12  # the fixture pairs, re-worded, so that the release takes a while to scroll


class Worker(threading.Thread):
    """Applies batches through the gate as the Faust worker does, and remembers every state."""

    def __init__(self, gate: ReleaseGate, pairs: dict, seed: int = 7) -> None:
        super().__init__(daemon=True)
        self.gate = gate
        self.model = pairs  # id -> StoredPair, what the store holds
        self.texts = [(p.question, p.answer, p.url, p.language) for p in fixture_pairs()]
        self.rng = random.Random(seed)
        self.states: dict[int, dict] = {}
        self.batch_times: list[float] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def remember(self, seq: int) -> None:
        self.states[seq] = {
            "rows": data_rows(list(self.model.values())),
            "aligned": [copy.deepcopy(p) for p in self.model.values() if p.aligned],
        }

    def run(self) -> None:
        try:
            seq = 0
            while not self.stop.is_set() and seq < 400:
                seq += 1
                started = time.monotonic()
                with self.gate.batch():
                    self.apply(seq)
                    self.gate.set_meta("checkpoint", {"offsets": {"webfaq.crawl:0": seq * 30},
                                                      "time": f"batch {seq}", "batch_seq": seq})
                    self.remember(seq)
                self.batch_times.append(time.monotonic() - started)
                time.sleep(0.002)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def apply(self, seq: int) -> None:
        seen = f"2026-11-21T{seq // 60:02d}:{seq % 60:02d}:00Z"
        new = []
        for i in range(30):
            q, a, url, language = self.texts[(seq * 30 + i) % len(self.texts)]
            new.append(make_pair(f"{q} (batch {seq}, {i})", a, url, language, seen))
        updates: dict[str, dict] = {}
        old = self.rng.sample(sorted(self.model), 10)
        for pid in old:
            updates[pid] = {"last_seen": seen}
        # re-align: a new pair takes an older partner, whose previous partner loses it
        fresh = new[0]
        partner = self.model[self.rng.choice(
            [pid for pid in sorted(self.model) if self.model[pid].language != fresh.language])]
        fresh.aligned = {partner.language: {"id": partner.id, "similarity": 0.91}}
        previous = partner.aligned.get(fresh.language)
        partner_aligned = dict(partner.aligned)
        partner_aligned[fresh.language] = {"id": fresh.id, "similarity": 0.91}
        updates[partner.id] = {"aligned": partner_aligned, "last_seen": seen}
        if previous and previous["id"] in self.model:
            dropped = dict(self.model[previous["id"]].aligned)
            dropped.pop(partner.language, None)
            updates[previous["id"]] = {"aligned": dropped}
        current = self.gate.get(sorted(updates), with_vectors=True)  # whole points: the store has no partial update
        self.gate.upsert(new + [dataclasses.replace(current[pid], **fields) for pid, fields in sorted(updates.items())])
        for pair in new:
            pair.vector = None
            self.model[pair.id] = pair
        for pid, fields in updates.items():
            for name, value in fields.items():
                setattr(self.model[pid], name, value)


def test_release_during_ingestion_is_point_in_time(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    base = fixture_pairs()
    preload = [make_pair(f"{p.question} [{r}]", p.answer, p.url, p.language, "2026-11-20T00:00:00Z")
               for r in range(PRELOAD_ROUNDS) for p in base]
    store.upsert(base + preload)
    model = {p.id: p for p in base + preload}
    for pair in model.values():
        pair.vector = None
    gate = ReleaseGate(store)
    worker = Worker(gate, model)
    worker.remember(0)
    store.set_meta("checkpoint", {"offsets": {}, "time": "start", "batch_seq": 0})
    worker.start()
    try:
        while len(worker.states) < 4:
            time.sleep(0.01)
        result = write_release(gate, Settings(release_dir=tmp_path / "releases"), progress=False)
        batches_at_end = len(worker.states) - 1
    finally:
        worker.stop.set()
        worker.join(30)
        store.close()
    assert worker.error is None
    manifest = result.manifest
    seq = manifest["cutoff"]["batch_seq"]
    assert manifest["consistency"] == "snapshot"
    assert manifest["cutoff"]["offsets"] == {"webfaq.crawl:0": seq * 30}
    # the worker kept going while the release was written (the undo log was exercised)
    assert batches_at_end > seq

    state = worker.states[seq]
    release_rows = {}
    for path in sorted((result.path / "data").glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            release_rows[row["id"]] = tuple(row[name] for name in DATA_SCHEMA.names)
    # every pair in the store at the cutoff, as it was then; nothing written after it
    assert release_rows == state["rows"]
    assert sum(manifest["counts"].values()) == len(release_rows) == manifest["pairs"]

    expected_bitexts = {(r["id1"], r["id2"], r["similarity"]) for rows in
                        bitext_rows(state["aligned"]).values() for r in rows}
    db = duckdb.connect(str(result.path / "webfaq.duckdb"), read_only=True)
    assert set(db.execute("SELECT id1, id2, similarity FROM bitexts").fetchall()) == expected_bitexts
    assert db.execute("SELECT count(*) FROM bitexts WHERE id1 NOT IN (SELECT id FROM data) "
                      "OR id2 NOT IN (SELECT id FROM data)").fetchone()[0] == 0
    assert sum(manifest["bitext_counts"].values()) == len(expected_bitexts) > 0
    # the worker waited for the cut only: far less than the release took
    assert manifest["timings"]["worker_paused_s"] < 0.05
