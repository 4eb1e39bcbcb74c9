r"""WebFAQ identifiers.

``pair_id(question, answer)`` is WebFAQ's id, computed exactly as WebFAQ 2.0's extraction does:
the md5 hex digest of the UTF-8 bytes of ``question + " " + answer`` in which only ``"\n"`` is
replaced by a space, the result then stripped (``str.strip``). ``\r``, tabs and any other character
are hashed as they are, so an answer with CRLF line ends keeps its ``\r``. Every input path (WARC
and envelope HTML, envelope and OWI ``faq`` lists) gets its ids from this one function, through
:func:`webfaq_stream.domain.clean.clean_pairs`. ``point_id`` is the same 128 bits formatted as a
UUID, which is what Qdrant accepts as a point id.
"""

from __future__ import annotations

import hashlib
import uuid
from urllib.parse import urlsplit


def pair_id(question: str, answer: str) -> str:
    """WebFAQ's id of a pair: md5 hex of ``(question + " " + answer).replace("\\n", " ").strip()``."""
    text = f"{question} {answer}".replace("\n", " ").strip()
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def point_id(pair_id_hex: str) -> str:
    """The Qdrant point id (a UUID string) carrying the same 128 bits as ``pair_id_hex``."""
    return str(uuid.UUID(hex=pair_id_hex))


def pair_id_from_point(point: str) -> str:
    """Inverse of :func:`point_id`."""
    return uuid.UUID(point).hex


def origin_of(url: str) -> str:
    """The origin of a URL: ``scheme://host``, host lower-cased, no port, no userinfo, no trailing dot.

    For every host under a public suffix this is WebFAQ's origin (which WebFAQ joins from OWI's
    tldextract parts, ``scheme://[subdomain.]domain.suffix``); for hosts without one (IP addresses,
    ``localhost``) WebFAQ's join leaves a trailing dot and this does not (README, "Differences from
    WebFAQ"). Raises ``ValueError`` when the URL has no http(s) scheme or no host.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url[:200]!r}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"URL has no host: {url[:200]!r}")
    return f"{scheme}://{host}"
