"""The fixtures folder is found beside a checkout, beside the checkout a clone came from, or where
``WEBFAQ_TEST_FIXTURES`` says (``tests/shared_fixtures.py``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from shared_fixtures import fixtures_root


def _git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, capture_output=True)


def test_found_beside_the_checkout_a_clone_came_from(tmp_path: Path) -> None:
    beside = tmp_path / "work" / "shared" / "fixtures"
    beside.mkdir(parents=True)
    original = tmp_path / "work" / "repo"
    _git("init", "-q", str(original))
    _git("-C", str(original), "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q",
         "--allow-empty", "-m", "first")
    clone, clone_of_clone = tmp_path / "elsewhere" / "clone", tmp_path / "far" / "clone"
    _git("clone", "-q", str(original), str(clone))
    _git("clone", "-q", str(clone), str(clone_of_clone))
    assert fixtures_root(original, {}) == beside
    assert fixtures_root(clone, {}) == beside
    assert fixtures_root(clone_of_clone, {}) == beside


def test_the_environment_names_it_and_a_missing_one_is_beside_the_checkout(tmp_path: Path) -> None:
    lone = tmp_path / "lone"
    _git("init", "-q", str(lone))
    assert fixtures_root(lone, {}) == tmp_path / "shared" / "fixtures"
    assert fixtures_root(lone, {"WEBFAQ_TEST_FIXTURES": "/data/fixtures"}) == Path("/data/fixtures")
