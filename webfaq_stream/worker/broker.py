"""The embedded Kafka-compatible broker (Tansu) in the foreground, for development (``webfaq-stream broker``).

``serve_broker(port=None, host=None, on_ready=...)`` starts the broker
(:class:`webfaq_stream.adapters.kafka.broker.EmbeddedBroker`; memory storage: topics are gone when it
stops), calls ``on_ready(bootstrap)`` and serves until SIGTERM or Ctrl-C, then stops it and returns 0;
if the broker process dies meanwhile, ``on_died(log_path)`` is called and it returns 1.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path


def serve_broker(port: int | None = None, host: str | None = None, *,
                 on_ready: Callable[[str], None] = lambda bootstrap: None,
                 on_died: Callable[[Path | None], None] = lambda log_path: None, poll_s: float = 0.5) -> int:
    """Run the broker until a stop signal (module docstring); the exit status."""
    from webfaq_stream.adapters.kafka.broker import LOOPBACK, EmbeddedBroker

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with EmbeddedBroker(port=port, host=host or LOOPBACK) as broker:
        on_ready(broker.bootstrap)
        try:
            while not stop.wait(poll_s):
                if not broker.running():
                    on_died(broker.log_path)
                    return 1
        except KeyboardInterrupt:
            pass
        return 0
