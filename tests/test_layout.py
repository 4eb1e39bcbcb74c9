"""The boundaries of DESIGN section 2: pure steps never import connectors; connectors never import the app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP_MODULES = {"worker", "ingest", "cli", "release", "summary"}  # modules that wire steps to connectors
CONNECTOR_MAY_IMPORT = {"exceptions", "model", "ports", "ids", "settings", "kafka_security"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            prefix = "webfaq_stream." if node.level and path.parent.name == "webfaq_stream" else ""
            names.add(prefix + node.module if node.level else node.module)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "webfaq_stream").glob("*.py")), ids=lambda p: p.stem)
def test_domain_modules_do_not_import_connectors(path: Path) -> None:
    if path.stem in APP_MODULES:
        return
    assert not {m for m in imported_modules(path) if m.split(".")[0] == "connectors"}


@pytest.mark.parametrize("path", sorted((ROOT / "connectors").glob("*.py")), ids=lambda p: p.stem)
def test_connectors_do_not_import_the_app(path: Path) -> None:
    app = {m for m in imported_modules(path)
           if m.startswith("webfaq_stream.") and m.split(".")[1] not in CONNECTOR_MAY_IMPORT}
    assert not app, f"{path.name} imports {app}"
