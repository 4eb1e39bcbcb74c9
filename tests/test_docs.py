"""The documentation lives in the repository and stays true to the code.

- No file of the repository points at a file outside it (the design notes or the shared fixtures
  beside the checkout); only tests, which read the fixtures, name the fixtures' folder.
- The README's model table shows each model's calibrated thresholds as ``embed/models.py`` has them.
- ``docs/architecture.md`` names every room, and every module or test it cites exists.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from webfaq_stream.embed.models import MODEL_DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
# Spelled in pieces so that this file does not match itself.
DESIGN_FILE = "DESIGN" + ".md"
DESIGN_SECTION = re.compile(r"\bDESIGN" + r"(?: section)? \d")
SHARED = ("../" + "shared", "shared/" + "fixtures")


def _repository_text_files() -> list[Path]:
    """Every file of the working tree that git does not ignore (tracked or new)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return [ROOT / name for name in listed if name and (ROOT / name).is_file()]


def test_no_file_points_outside_the_repository() -> None:
    offenders = []
    for path in _repository_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        relative = path.relative_to(ROOT).as_posix()
        if DESIGN_FILE in text or DESIGN_SECTION.search(text):
            offenders.append(f"{relative}: the design notes")
        if not relative.startswith("tests/") and any(marker in text for marker in SHARED):
            offenders.append(f"{relative}: the shared fixtures")
    assert not offenders, offenders


def _model_row(name: str) -> list[str]:
    table = README.split("## Embedding models and thresholds", 1)[1].split("\n\n**", 1)[0]
    key = name.removeprefix("sentence-transformers:sentence-transformers/")
    rows = [line for line in table.splitlines() if line.startswith("|") and key in line]
    assert rows, f"the README's model table has no row for {name}"
    return [cell.strip() for cell in rows[0].strip("|").split("|")]


@pytest.mark.parametrize("name", sorted(MODEL_DEFAULTS))
def test_the_readme_shows_each_models_thresholds(name: str) -> None:
    *_, near_duplicate, alignment = _model_row(name)
    defaults = MODEL_DEFAULTS[name]
    assert float(re.match(r"[\d.]+", near_duplicate).group()) == defaults.near_duplicate_threshold
    assert float(re.match(r"[\d.]+", alignment).group()) == defaults.alignment_threshold


def test_the_architecture_names_every_room_and_only_real_files() -> None:
    rooms = {path.name for path in (ROOT / "webfaq_stream").iterdir() if (path / "__init__.py").exists()}
    table = ARCHITECTURE.split("## The rooms", 1)[1].split("\n## ", 1)[0]
    assert {room for room in rooms if f"| `{room}/` |" in table} == rooms
    cited = set(re.findall(r"\b((?:[a-z_]+/)+[a-z_]+\.py)\b", ARCHITECTURE))
    assert cited
    missing = []
    for path in cited:
        candidates = [ROOT / path, ROOT / "webfaq_stream" / path]
        if "{" not in path and not any(candidate.exists() for candidate in candidates):
            missing.append(path)
    assert not missing, f"docs/architecture.md cites missing files: {missing}"
