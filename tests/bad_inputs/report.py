"""Counts the fault and bad-input tests report: kills and restarts survived, bad inputs tried,
records lost and doubled.

``record(test, **counts)`` adds one test's counts (in-process, for the ``pytest_terminal_summary``
hook in ``tests/conftest.py``) and rewrites ``data/fault-report.json`` at the repository root, so
the figures survive a CI run without ``-s``. ``summary_lines()`` gives the lines the hook prints.
"""

from __future__ import annotations

import json
from pathlib import Path

REPORT_PATH = Path(__file__).resolve().parents[2] / "data" / "fault-report.json"
_COUNTS: dict[str, dict[str, int]] = {}
#: Counts summed over tests in the summary's ``total`` line (the rest are per test).
TOTALLED = ("kills_survived", "broker_restarts_survived", "store_outages_survived", "bad_inputs_tried",
            "records", "records_lost", "records_doubled", "good_records_lost")


def record(test: str, **counts: int) -> None:
    """Remember ``counts`` for ``test`` and write the report file."""
    _COUNTS[test] = {name: int(value) for name, value in counts.items()}
    REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    REPORT_PATH.write_text(json.dumps(_COUNTS, indent=1, sort_keys=True) + "\n")


def summary_lines() -> list[str]:
    """One line per test plus the totals; empty when no fault test ran."""
    if not _COUNTS:
        return []
    totals: dict[str, int] = {}
    lines = []
    for test, counts in sorted(_COUNTS.items()):
        lines.append(f"{test}: " + ", ".join(f"{name} {value}" for name, value in counts.items()))
        for name, value in counts.items():
            if name in TOTALLED:
                totals[name] = totals.get(name, 0) + value
    lines.append("total: " + ", ".join(f"{name} {value}" for name, value in sorted(totals.items())))
    lines.append(f"(written to {REPORT_PATH})")
    return lines
