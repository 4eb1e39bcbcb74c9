"""WebFAQ identifiers.

``pair_id(question, answer)`` is WebFAQ's id: the md5 hex digest of
``question + " " + answer`` with newlines replaced by spaces. ``point_id`` is the same
128 bits formatted as a UUID, which is what Qdrant accepts as a point id.
"""

from __future__ import annotations

import hashlib
import uuid
from urllib.parse import urlsplit


def pair_id(question: str, answer: str) -> str:
    """WebFAQ's id of a pair: md5 hex of ``question + " " + answer`` (newlines as spaces)."""
    text = f"{question} {answer}".replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def point_id(pair_id_hex: str) -> str:
    """The Qdrant point id (a UUID string) carrying the same 128 bits as ``pair_id_hex``."""
    return str(uuid.UUID(hex=pair_id_hex))


def pair_id_from_point(point: str) -> str:
    """Inverse of :func:`point_id`."""
    return uuid.UUID(point).hex


def origin_of(url: str) -> str:
    """WebFAQ's origin of a URL: ``scheme://host``, host lower-cased, no port, no userinfo.

    Raises ``ValueError`` when the URL has no http(s) scheme or no host.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url[:200]!r}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"URL has no host: {url[:200]!r}")
    return f"{scheme}://{host}"
