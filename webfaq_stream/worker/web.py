"""The worker's HTTP endpoints, served from a daemon thread.

``serve_http(port, metrics, health)`` starts a small threaded HTTP server and returns a
:class:`MetricsServer` (``.port`` is the bound port, useful with ``port=0``; ``.close()``
stops it and frees the port). Endpoints:

- ``GET /metrics``: Prometheus text format of ``metrics``;
- ``GET /health``: ``health.report()`` as JSON, HTTP 200 when healthy, else 503 with the
  reasons (readiness: broker and store reachable, not shutting down);
- ``GET /health/live``: 200 ``{"status": "alive"}`` while the process serves (liveness: a
  broker outage is not cured by restarting the pod);
- anything else: 404. Only GET and HEAD are answered; nothing here changes state.

The server never raises into the worker: a failing handler answers 500 and logs.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from webfaq_stream.errors import ConfigurationError
from webfaq_stream.worker.health import HealthState
from webfaq_stream.worker.metrics import METRICS_CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)


class MetricsServer:
    """A running HTTP server for ``/metrics`` and ``/health``; ``close()`` stops it."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        """The TCP port actually bound."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL (``http://host:port``) for local clients."""
        host = self._server.server_address[0]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self.port}"

    def close(self) -> None:
        """Stop serving, free the port and join the thread (idempotent)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handler_class(metrics: Metrics, health: HealthState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "webfaq-stream"

        def do_GET(self) -> None:
            try:
                self._answer()
            except Exception:  # answer 500, never kill the server thread
                log.exception("health/metrics handler failed", extra={"path": self.path})
                self._send(500, "application/json", b'{"status": "error"}')

        do_HEAD = do_GET

        def _answer(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/") or "/"
            if path == "/metrics":
                self._send(200, METRICS_CONTENT_TYPE, metrics.render())
            elif path == "/health":
                report = health.report()
                body = json.dumps(report.as_json()).encode()
                self._send(200 if report.healthy else 503, "application/json", body)
            elif path == "/health/live":
                self._send(200, "application/json", b'{"status": "alive"}')
            else:
                self._send(404, "application/json", b'{"status": "not found"}')

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("http %s", format % args)

    return Handler


def serve_http(port: int, metrics: Metrics, health: HealthState, host: str = "0.0.0.0") -> MetricsServer:
    """Serve ``/metrics`` and ``/health`` on ``host:port`` (0 = any free port) from a daemon thread.

    Raises ``ConfigurationError`` naming ``WEBFAQ_WEB_PORT`` when the port cannot be bound.
    """
    try:
        server = ThreadingHTTPServer((host, port), _handler_class(metrics, health))
    except OSError as exc:
        raise ConfigurationError(f"WEBFAQ_WEB_PORT: cannot listen on {host}:{port}: {exc.strerror}") from None
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="webfaq-http", daemon=True)
    thread.start()
    log.info("serving /metrics and /health", extra={"port": server.server_address[1]})
    return MetricsServer(server, thread)
