"""Tombstones: origins and URLs forgotten on request, kept out of the store and of every release.

A *target* is what a maintainer names in ``webfaq-stream forget``:

- an origin, ``scheme://host`` (WebFAQ's origin; a path of ``/`` alone still names the origin);
- a bare host, ``example.com``: both its ``http://`` and ``https://`` origins;
- a URL with a path beyond ``/``, a query or a fragment: that page, as crawled (exact string).

``parse_targets(texts)`` turns them into canonical targets (``ValueError`` naming a bad one).
:class:`Tombstones` is the set of tombstones the store keeps (one meta document): each with its
kind, reason, time and how many pairs it removed (``None`` while the removal is still pending).
``covers(origin, url)`` tells whether a pair of that origin and URL stays out. Values only; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from webfaq_stream.domain.ids import origin_of

ORIGIN = "origin"
URL = "url"


@dataclass(frozen=True, slots=True)
class Target:
    """A canonical forget target: ``kind`` is :data:`ORIGIN` or :data:`URL`."""

    kind: str
    value: str


def parse_target(text: str) -> list[Target]:
    """The canonical targets ``text`` names (two for a bare host); ``ValueError`` when it names none."""
    raw = text.strip()
    if not raw:
        raise ValueError("an empty target")
    if "://" not in raw:
        if any(char in raw for char in "/?#@ "):
            raise ValueError(f"{raw!r}: give a URL with its scheme (https://...), an origin or a bare host")
        host = origin_of(f"http://{raw}").removeprefix("http://")
        return [Target(ORIGIN, f"http://{host}"), Target(ORIGIN, f"https://{host}")]
    origin = origin_of(raw)  # ValueError: not http(s), no host
    parts = urlsplit(raw)
    if parts.path in ("", "/") and not parts.query and not parts.fragment:
        return [Target(ORIGIN, origin)]
    return [Target(URL, raw)]


def parse_targets(texts: Iterable[str]) -> list[Target]:
    """Every target of ``texts``, each once, in the order given (``ValueError`` on a bad one)."""
    seen: dict[Target, None] = {}
    for text in texts:
        try:
            targets = parse_target(text)
        except ValueError as exc:
            raise ValueError(f"not an origin, host or URL: {text!r} ({exc})") from None
        seen.update(dict.fromkeys(targets))
    return list(seen)


@dataclass(frozen=True, slots=True)
class Tombstone:
    """One forgotten target: why, when (ISO-8601 UTC) and how many pairs it removed (``None``:
    pending, the removal has not completed yet)."""

    kind: str
    reason: str
    time: str
    removed: int | None = None

    def as_meta(self) -> dict[str, Any]:
        return {"kind": self.kind, "reason": self.reason, "time": self.time, "removed": self.removed}


@dataclass(frozen=True, slots=True)
class Tombstones:
    """Tombstones by target value (see the module docstring)."""

    entries: Mapping[str, Tombstone] = field(default_factory=dict)
    origins: frozenset[str] = field(init=False)
    urls: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "origins", frozenset(t for t, e in self.entries.items() if e.kind == ORIGIN))
        object.__setattr__(self, "urls", frozenset(t for t, e in self.entries.items() if e.kind == URL))

    @classmethod
    def from_meta(cls, document: Mapping[str, Any] | None) -> Tombstones:
        """Rebuild from the store's meta document (``None``: no tombstones)."""
        entries = {}
        for target, entry in ((document or {}).get("tombstones") or {}).items():
            removed = entry.get("removed")
            entries[str(target)] = Tombstone(kind=str(entry.get("kind") or URL), reason=str(entry.get("reason") or ""),
                                             time=str(entry.get("time") or ""),
                                             removed=None if removed is None else int(removed))
        return cls(entries)

    def as_meta(self) -> dict[str, Any]:
        return {"tombstones": {target: entry.as_meta() for target, entry in sorted(self.entries.items())}}

    def covers(self, origin: str, url: str) -> bool:
        """Whether a pair of ``origin`` found at ``url`` is forgotten."""
        return origin in self.origins or url in self.urls

    def pending(self) -> list[str]:
        """Targets whose removal has not completed, in target order."""
        return sorted(t for t, entry in self.entries.items() if entry.removed is None)

    def adding(self, targets: Iterable[Target], reason: str, time: str) -> Tombstones:
        """These tombstones plus ``targets`` (pending); a target already forgotten keeps its entry."""
        entries = dict(self.entries)
        for target in targets:
            entries.setdefault(target.value, Tombstone(kind=target.kind, reason=reason, time=time))
        return Tombstones(entries)

    def completed(self, removed: Mapping[str, int]) -> Tombstones:
        """These tombstones with the removals of ``removed`` (target -> pairs) recorded as done."""
        entries = dict(self.entries)
        for target, count in removed.items():
            entry = entries[target]
            entries[target] = replace(entry, removed=(entry.removed or 0) + count)
        return Tombstones(entries)

    def since(self, moment: str | None) -> dict[str, Tombstone]:
        """The tombstones recorded at or after ``moment`` (ISO-8601 UTC; ``None``: all of them)."""
        return {t: entry for t, entry in sorted(self.entries.items()) if moment is None or entry.time >= moment}
