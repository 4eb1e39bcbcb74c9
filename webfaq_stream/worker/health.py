"""Health of a worker: what it last heard from the broker and the store.

In: the worker's reports (``mark_store_ok()``, ``mark_store_failed(exc)``,
``mark_broker_ok()``, ``mark_broker_failed(exc)``, ``mark_stopping()``), optionally probes
that are run when health is asked for. Out: :meth:`HealthState.report`, a
:class:`HealthReport` (``healthy``, the reasons it is not, and the facts behind it) that
``/health`` serves as JSON with HTTP 200 or 503.

Rules (all times from a monotonic clock, so wall-clock jumps change nothing):
- the store is down when its last failure is newer than its last success;
- the broker is down when its last failure is newer than its last contact, when the last
  contact is older than ``broker_stale_after_s``, or when there was none within
  ``startup_grace_s`` of start;
- a probe that raises (or returns a message) makes the worker unhealthy with that reason;
- after ``mark_stopping()`` the worker is unhealthy ("shutting down"), so it leaves a load
  balancer's rotation while it drains.
Error texts are cut to 200 characters; they carry the exception's class and message,
never the settings (no secret goes through here). Thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: A probe returns None when fine, or a short reason; raising counts as failing.
Probe = Callable[[], str | None]

_MAX_ERROR_CHARS = 200


def describe_error(exc: BaseException) -> str:
    """``Class: message`` of an exception, one line, at most 200 characters."""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ").strip()
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The answer of ``/health``: ``healthy`` and, when not, every reason why."""

    healthy: bool
    reasons: tuple[str, ...]
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The JSON body of ``/health``."""
        return {"status": "ok" if self.healthy else "unhealthy", "reasons": list(self.reasons),
                **self.details}


class HealthState:
    """What the worker last heard from its broker and store; see the module docstring."""

    def __init__(self, *, broker_stale_after_s: float = 120.0, startup_grace_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self.broker_stale_after_s = broker_stale_after_s
        self.startup_grace_s = startup_grace_s
        self._store_ok: float | None = None
        self._store_failed: float | None = None
        self._store_error = ""
        self._store_errors = 0
        self._broker_ok: float | None = None
        self._broker_failed: float | None = None
        self._broker_error = ""
        self._stopping = False
        self._probes: dict[str, Probe] = {}

    # --- reports from the worker ---------------------------------------------------------
    def mark_store_ok(self) -> None:
        """A store write (or read) just succeeded."""
        with self._lock:
            self._store_ok = self._clock()

    def mark_store_failed(self, exc: BaseException) -> None:
        """A store operation just failed with ``exc``."""
        with self._lock:
            self._store_failed = self._clock()
            self._store_error = describe_error(exc)
            self._store_errors += 1

    def mark_broker_ok(self) -> None:
        """The broker just answered (a fetch, a commit, a heartbeat)."""
        with self._lock:
            self._broker_ok = self._clock()

    def mark_broker_failed(self, exc: BaseException) -> None:
        """Talking to the broker just failed with ``exc``."""
        with self._lock:
            self._broker_failed = self._clock()
            self._broker_error = describe_error(exc)

    def mark_stopping(self) -> None:
        """The worker is shutting down; it reports unhealthy from now on."""
        with self._lock:
            self._stopping = True

    def add_probe(self, name: str, probe: Probe) -> None:
        """Run ``probe`` on every report; keep probes fast (they run on the HTTP thread)."""
        with self._lock:
            self._probes[name] = probe

    # --- the answer ----------------------------------------------------------------------
    def report(self) -> HealthReport:
        """Decide healthy or not, with every reason and the facts behind it."""
        with self._lock:
            now = self._clock()
            reasons: list[str] = []
            if self._stopping:
                reasons.append("shutting down")
            if self._store_failed is not None and (self._store_ok is None
                                                   or self._store_failed >= self._store_ok):
                reasons.append(f"store unreachable: {self._store_error}")
            if self._broker_failed is not None and (self._broker_ok is None
                                                    or self._broker_failed >= self._broker_ok):
                reasons.append(f"broker unreachable: {self._broker_error}")
            elif self._broker_ok is None:
                if now - self._started > self.startup_grace_s:
                    reasons.append(f"no broker contact since start ({now - self._started:.0f}s ago)")
            elif now - self._broker_ok > self.broker_stale_after_s:
                reasons.append(f"no broker contact for {now - self._broker_ok:.0f}s")
            details = {
                "uptime_s": round(now - self._started, 3),
                "last_store_ok_s_ago": _ago(now, self._store_ok),
                "last_broker_contact_s_ago": _ago(now, self._broker_ok),
                "store_errors": self._store_errors,
            }
            probes = dict(self._probes)
        for name, probe in probes.items():  # outside the lock: probes may block briefly
            try:
                problem = probe()
            except Exception as exc:  # noqa: BLE001 (a probe failing is exactly what it reports)
                problem = describe_error(exc)
            if problem:
                reasons.append(f"{name}: {problem}")
        return HealthReport(healthy=not reasons, reasons=tuple(reasons), details=details)


def _ago(now: float, then: float | None) -> float | None:
    return None if then is None else round(now - then, 3)
