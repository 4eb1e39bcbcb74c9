"""What ``webfaq-stream status`` reports: consumer lag, store counts, the last release.

``status_report(settings, scan=True, timeout_s=10.0, progress=False)`` returns three sections as plain
values (JSON-ready), each either its facts or ``{"error": message}`` (a ``WebFAQError`` while reading
it) or ``{"note": ...}``:
- ``kafka``: for the consumer group on the crawl topic, each partition's end offset, committed offset
  and lag; a note when no ``WEBFAQ_KAFKA_BOOTSTRAP`` is set (the embedded broker lives inside its
  worker). On the embedded Tansu broker end offsets are unreliable, so lag is a lower bound;
- ``store``: pairs in total and, with ``scan``, per language and how many are aligned
  (:func:`webfaq_stream.store.queries.store_counts`);
- ``release``: the newest finished release (id, creation time, pairs, bitexts, path, how many are kept).
Read-only: nothing is created or committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webfaq_stream.errors import WebFAQError
from webfaq_stream.settings import Settings


def status_report(settings: Settings, *, scan: bool = True, timeout_s: float = 10.0,
                  progress: bool = False) -> dict[str, dict[str, Any]]:
    """The three sections (module docstring)."""
    return {
        "kafka": _section(lambda: kafka_status(settings, timeout_s=timeout_s)),
        "store": _section(lambda: store_status(settings, scan=scan, progress=progress)),
        "release": _section(lambda: release_status(settings)),
    }


def _section(read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return read()
    except WebFAQError as exc:
        return {"error": str(exc)}


def kafka_status(settings: Settings, timeout_s: float = 10.0) -> dict[str, Any]:
    """Lag of the worker group on the crawl topic, per partition."""
    if not settings.kafka_bootstrap:
        return {"note": "embedded broker (inside the worker): set WEBFAQ_KAFKA_BOOTSTRAP to inspect one"}
    from webfaq_stream.adapters.kafka.inspect import partition_lag
    from webfaq_stream.adapters.kafka.security import kafka_client_kwargs

    lags = partition_lag(kafka_client_kwargs(settings), settings.consumer_group, settings.topic, timeout_s)
    return {
        "bootstrap": settings.kafka_bootstrap, "topic": settings.topic, "group": settings.consumer_group,
        "partitions": [{"partition": lag.partition, "end_offset": lag.end_offset,
                        "committed": lag.committed, "lag": lag.lag} for lag in lags],
        "total_lag": sum(lag.lag for lag in lags),
    }


def store_status(settings: Settings, *, scan: bool = True, progress: bool = False) -> dict[str, Any]:
    """Pair counts (total, per language, aligned) of the configured store."""
    from webfaq_stream.store.queries import store_counts

    counts = store_counts(settings, scan=scan, progress=progress)
    out: dict[str, Any] = {"location": counts.location, "collection": counts.collection,
                           "pairs": counts.pairs}
    if counts.aligned is not None:
        out["languages"] = dict(counts.languages.most_common())
        out["aligned_pairs"] = counts.aligned
    return out


def release_status(settings: Settings) -> dict[str, Any]:
    """The newest finished release, from its manifest."""
    from webfaq_stream.release.layout import list_releases
    from webfaq_stream.release.manifest import read_manifest

    ids = list_releases(settings.release_dir)
    if not ids:
        return {"note": f"no release yet in {settings.release_dir}"}
    manifest = read_manifest(settings.release_dir / ids[-1])
    return {"release_id": manifest["release_id"], "created": manifest.get("created"),
            "pairs": manifest.get("pairs"), "bitexts": manifest.get("bitexts"),
            "path": str(settings.release_dir / ids[-1]), "releases": len(ids)}
