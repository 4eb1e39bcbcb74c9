"""Where the real-data fixtures are: ``SHARED_FIXTURES`` (``fixtures_root()``, found once).

In order: the folder ``WEBFAQ_TEST_FIXTURES`` names; ``shared/fixtures`` beside this checkout; for a
clone (``git clone <checkout> <dir>``, anywhere) ``shared/fixtures`` beside the local checkout it was
cloned from, following ``remote.origin.url`` through clones of clones. Where none exists, the path
beside this checkout, so that each test that reads it fails naming that path.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_BESIDE = Path("shared") / "fixtures"
_MAX_CLONE_HOPS = 5


def _origin(checkout: Path) -> Path | None:
    """The local checkout ``checkout`` was cloned from, if its origin is a local path."""
    try:
        url = subprocess.run(["git", "-C", str(checkout), "config", "--get", "remote.origin.url"],
                             capture_output=True, text=True, check=False).stdout.strip()
    except OSError:  # no git
        return None
    url = url.removeprefix("file://")
    if not url or "://" in url or (":" in url and not url.startswith("/")):  # a remote (scp-like or URL)
        return None
    origin = (checkout / url).resolve()
    return origin if origin.is_dir() else None


def fixtures_root(checkout: Path = REPO, environ: Mapping[str, str] = os.environ) -> Path:
    """The fixtures folder of ``checkout`` (module docstring)."""
    named = environ.get("WEBFAQ_TEST_FIXTURES")
    if named:
        return Path(named)
    current: Path | None = checkout
    for _ in range(_MAX_CLONE_HOPS):
        if current is None:
            break
        if (current.parent / _BESIDE).is_dir():
            return current.parent / _BESIDE
        current = _origin(current)
    return checkout.parent / _BESIDE


SHARED_FIXTURES = fixtures_root()
