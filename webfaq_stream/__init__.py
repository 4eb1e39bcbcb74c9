"""webfaq-stream: a streaming, incremental ingestion daemon for a WebFAQ-style FAQ dataset.

One sub-package per stage of the flow (``decode`` -> ``extract`` -> ``domain`` cleaning and
language id -> ``embed`` -> ``store``; ``release``, ``negatives``), the ``worker`` that runs it, the
``adapters`` to Kafka, Qdrant and crawl files, and the ``cli``. See docs/architecture.md.
"""

__version__ = "0.1.0"
