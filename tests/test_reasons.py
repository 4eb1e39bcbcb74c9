"""One list of reasons (``webfaq_stream.domain.reasons``): the code, the metrics, the ingest summary and
the README's table all agree with it, so a new reason cannot be miscounted or left undocumented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from webfaq_stream.domain.clean import DROP_REASONS as FILTER_REASONS
from webfaq_stream.domain.reasons import (
    DEAD_LETTER_REASONS,
    DROP_REASONS,
    PAGE_DROP_REASONS,
    PAIR_DROP_REASONS,
    Reason,
)
from webfaq_stream.store.stats import IngestStats
from webfaq_stream.worker.metrics import Metrics

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: Calls whose first argument (or ``reason=``) is a reason.
REASON_CALLS = {"RecordError", "PageDropped", "Dropped", "DeadLetter"}
KINDS = {"dead letter": DEAD_LETTER_REASONS, "page drop": PAGE_DROP_REASONS, "pair drop": PAIR_DROP_REASONS}


def test_every_reason_has_a_kind_and_drops_of_pages_and_pairs_never_share_a_name() -> None:
    assert DEAD_LETTER_REASONS | DROP_REASONS == set(Reason)
    assert not PAGE_DROP_REASONS & PAIR_DROP_REASONS
    assert set(FILTER_REASONS) <= PAIR_DROP_REASONS


def _reason_literals() -> list[tuple[str, str]]:
    """``(where, text)`` of every string literal the package passes as a reason."""
    found = []
    for path in sorted((ROOT / "webfaq_stream").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name not in REASON_CALLS:
                continue
            arguments = [kw.value for kw in node.keywords if kw.arg == "reason"]
            if name != "DeadLetter":
                arguments += node.args[:1]
            else:
                arguments += node.args[1:2]
            for argument in arguments:
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", argument.value))
    return found


def test_every_reason_the_code_raises_is_in_the_enum() -> None:
    literals = _reason_literals()
    assert literals, "the scan found no reason at all: REASON_CALLS is out of date"
    unknown = [(where, text) for where, text in literals if text not in set(Reason)]
    assert not unknown, f"reasons missing from domain/reasons.py: {unknown}"


def _readme_table() -> dict[str, set[str]]:
    section = README.split("### Drop and dead-letter reasons", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| ([a-z ,]+) \|", section, flags=re.MULTILINE)
    return {reason: {kind.strip() for kind in kinds.split(",")} for reason, kinds in rows}


def test_the_readme_table_lists_every_reason_with_its_kinds() -> None:
    table = _readme_table()
    assert set(table) == set(Reason)
    for reason in Reason:
        assert table[reason] == {kind for kind, members in KINDS.items() if reason in members}, reason


def test_metrics_export_every_reason_from_the_start() -> None:
    text = Metrics().render().decode()
    def zero_series(metric: str) -> set[str]:
        return set(re.findall(rf'^{metric}\{{reason="([a-z_]+)"\}} 0\.0$', text, flags=re.MULTILINE))

    drops, dead = zero_series("webfaq_drops_total"), zero_series("webfaq_dead_letters_total")
    assert drops == DROP_REASONS
    assert dead == DEAD_LETTER_REASONS


@pytest.mark.parametrize("reason", sorted(DROP_REASONS))
def test_the_summary_counts_a_drop_as_a_pair_exactly_when_it_is_a_pair_reason(reason: Reason) -> None:
    stats = IngestStats.from_meta({"drops": {str(reason): 3}})
    assert stats.pairs_dropped == (3 if reason in PAIR_DROP_REASONS else 0)
