"""Structured logs: one JSON object per line, secrets never written.

``configure_logging(level, fmt, secrets)`` installs one handler on the root logger (stderr).
With ``fmt="json"`` every record becomes one line ``{"time", "level", "logger", "message",
...extra fields..., "exception"?}``: ``time`` is ISO-8601 UTC with milliseconds, extra
fields are whatever was passed as ``logger.info(msg, extra={...})`` (values that are not
JSON become their ``str``). ``fmt="text"`` gives a classic human line.

Secrets: every secret value given to :func:`configure_logging` (or later to
:func:`add_secrets`, e.g. ``secret_values(settings)``) is replaced by ``********`` wherever
it appears in a message, an extra field or a traceback; extra fields whose name looks like
a secret (password, secret, token, api_key, credentials) are masked whatever their value.
Calling :func:`configure_logging` again replaces the handler instead of adding a second.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any, Literal

MASK = "********"
_SECRET_KEY = re.compile(r"pass(word)?|secret|token|api_?key|credential|sasl_plain", re.IGNORECASE)
#: Attributes every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_HANDLER_NAME = "webfaq-stream"


class _Redactor:
    """Replaces known secret values in text; shared by the formatters of this module."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, secrets: Iterable[str]) -> None:
        # Very short values would mask ordinary words; secrets shorter than 4 chars are not secret.
        self._secrets.update(s for s in secrets if s and len(s) >= 4)
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern else text


_redact = _Redactor()


def add_secrets(secrets: Iterable[str]) -> None:
    """Never write these values to a log from now on (process-wide)."""
    _redact.add(secrets)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": _redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key in _STANDARD_ATTRS or key.startswith("_") or key in entry:
                continue
            entry[key] = MASK if _SECRET_KEY.search(key) else _json_safe(value)
        if record.exc_info:
            entry["exception"] = _redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = _redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class RedactingTextFormatter(logging.Formatter):
    """The ``text`` format: ``time level logger: message``, secrets masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return _redact(super().format(record))


def _json_safe(value: Any) -> Any:
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, str):
        return _redact(value)
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): MASK if _SECRET_KEY.search(str(k)) else _json_safe(v) for k, v in value.items()}
    return _redact(str(value))


def configure_logging(level: str = "INFO", fmt: Literal["json", "text"] = "json",
                      secrets: Iterable[str] = (), stream: IO[str] | None = None) -> logging.Handler:
    """Send all logs to ``stream`` (stderr) in ``fmt`` at ``level``; returns the handler.

    ``secrets`` are values to mask (pass ``secret_values(settings)``). Idempotent: a second
    call replaces this module's handler, other handlers on the root logger are left alone.
    """
    add_secrets(secrets)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else RedactingTextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
