"""When releases run: the cron schedule, on-demand request files, and the scheduler thread.

Contract:
- ``next_release_time(schedule, now)`` is the first time strictly after ``now`` (UTC) that the
  cron expression ``schedule`` names; an invalid expression raises ``ConfigurationError``.
- Requests: ``submit_request(release_dir)`` drops ``<release_dir>/.requests/<id>.request`` and
  returns the id; whoever owns the store (the worker's scheduler thread) answers with
  ``<id>.done`` (JSON: the release id and path, or ``{"error": ...}``), written atomically;
  ``wait_for_answer`` polls for it. Several pending requests are answered by one release.
- ``ReleaseScheduler(settings, make_release)`` runs ``make_release()`` at each scheduled time and
  whenever a request file appears, in a daemon thread (``start``/``stop``) or in the foreground
  (``run_forever``). A failing release is logged and answered as an error; the loop goes on.
  ``make_release`` runs in the scheduler's thread: with a ``ReleaseGate`` it pauses the worker
  only for the cut (see ``release_gate``). Several schedulers sharing a release directory (workers
  on a Qdrant server) write one release per slot: a slot that already has a release is skipped, and
  one that finds the release lock busy is skipped (``ReleaseBusyError``), not failed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from croniter import croniter

from webfaq_stream.adapters.request_files import RequestBox
from webfaq_stream.domain.model import utc_now
from webfaq_stream.errors import ConfigurationError, ReleaseError, WebFAQError
from webfaq_stream.release.layout import ReleaseBusyError, list_releases, release_time

log = logging.getLogger(__name__)

REQUESTS_DIR = ".requests"
REQUEST_SUFFIX = ".request"


def next_release_time(schedule: str, now: datetime) -> datetime:
    """The next time after ``now`` named by the cron ``schedule`` (UTC, timezone-aware)."""
    if not croniter.is_valid(schedule):
        raise ConfigurationError(f"WEBFAQ_RELEASE_SCHEDULE: not a cron expression: {schedule!r}")
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    return croniter(schedule, now).get_next(datetime).astimezone(UTC)


def _requests(release_dir: Path) -> RequestBox:
    return RequestBox(Path(release_dir) / REQUESTS_DIR, REQUEST_SUFFIX.removeprefix("."))


def submit_request(release_dir: Path) -> str:
    """Ask the store's owner for a release; returns the request id."""
    return _requests(release_dir).submit()


def pending_requests(release_dir: Path) -> list[str]:
    """Ids of requests not yet answered, oldest first."""
    return _requests(release_dir).pending()


def answer_requests(release_dir: Path, request_ids: list[str], answer: dict[str, Any]) -> None:
    """Write the answer of each request and remove the request files."""
    _requests(release_dir).answer(request_ids, answer)


def wait_for_answer(release_dir: Path, request_id: str, timeout_s: float,
                    poll_s: float = 0.5) -> dict[str, Any]:
    """The answer to ``request_id``; ``ReleaseError`` on timeout or when the release failed."""
    answer = _requests(release_dir).wait(request_id, timeout_s, poll_s)
    if answer is None:
        raise ReleaseError(f"no worker answered release request {request_id} within {timeout_s:.0f} s "
                           "(is a worker running with this release_dir?)")
    if answer.get("error"):
        raise ReleaseError(f"the worker's release failed: {answer['error']}")
    return answer


class ReleaseScheduler:
    """Runs ``make_release`` on ``settings.release_schedule`` and on request (module docstring).

    ``make_release`` returns anything with ``release_id`` and ``path`` (a ``ReleaseResult``).
    """

    def __init__(self, settings: Any, make_release: Callable[[], Any], *, poll_s: float = 1.0,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.release_dir = Path(settings.release_dir)
        self.schedule = settings.release_schedule
        self.make_release = make_release
        self.poll_s = poll_s
        self.clock = clock
        self.next_time = next_release_time(self.schedule, clock())
        self.last_result: Any = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run the loop in a daemon thread."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self.run_forever, name="release-scheduler", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        """Ask the loop to end and wait for it (a release in progress is finished first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def run_forever(self) -> None:
        """The loop: wake every ``poll_s``, release when due or requested, until ``stop()``."""
        while not self._stop.is_set():
            self.run_pending()
            self._stop.wait(self.poll_s)

    def _released_since(self, moment: datetime) -> bool:
        """Whether a release cut at or after ``moment`` exists (another worker took this slot)."""
        ids = list_releases(self.release_dir)
        return bool(ids) and release_time(ids[-1]) >= moment.replace(microsecond=0)

    def run_pending(self) -> Any:
        """Release now if the schedule is due or a request is pending; returns the result or None."""
        requests = pending_requests(self.release_dir)
        now = self.clock()
        due = now >= self.next_time
        if not due and not requests:
            return None
        if due:
            slot, self.next_time = self.next_time, next_release_time(self.schedule, now)
            if not requests and self._released_since(slot):
                log.info("release for %s already written by another process; skipped", slot.isoformat())
                return None
        try:
            result = self.make_release()
        except ReleaseBusyError as exc:
            log.info("release skipped: %s", exc)
            answer_requests(self.release_dir, requests, {"error": str(exc)})
            return None
        except WebFAQError as exc:
            self.last_error = str(exc)
            log.error("release failed: %s", exc)
            answer_requests(self.release_dir, requests, {"error": str(exc)})
            return None
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("release failed")
            answer_requests(self.release_dir, requests, {"error": self.last_error})
            return None
        self.last_result, self.last_error = result, None
        answer_requests(self.release_dir, requests,
                        {"release_id": result.release_id, "path": str(result.path)})
        return result
