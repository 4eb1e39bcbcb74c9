"""webfaq-stream: a streaming, incremental ingestion daemon for a WebFAQ-style FAQ dataset.

Pure steps (records, extract, clean, langid, align, ids) live here and never import
``connectors``; the application modules (worker, release, cli) wire them to connectors.
"""

__version__ = "0.1.0"
