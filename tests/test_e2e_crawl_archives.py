"""End to end on real crawl archives: ``ingest`` of every file in ``shared/fixtures/crawls`` at once.

Embedded broker, publisher, Faust worker child, store, release, as a new user would run
``webfaq-stream ingest``. Every response record of every file is published, read by the worker and
ends in a named outcome: no dead letters (no ``invalid_date``, no ``invalid_url``), the ``dns:`` and
``file:`` records counted as ``not_http`` drops.
"""

from __future__ import annotations

from pathlib import Path

from shared_fixtures import SHARED_FIXTURES
from warcio.archiveiterator import ArchiveIterator

from webfaq_stream.domain.reasons import PAGE_DROP_REASONS
from webfaq_stream.settings import load_settings
from webfaq_stream.worker.ingest import run_ingest

CRAWLS = SHARED_FIXTURES / "crawls"


def test_ingest_of_real_archives_ends_every_response_record_named(tmp_path: Path,
                                                                  worker_env: dict[str, str]) -> None:
    files = sorted(path for path in CRAWLS.iterdir() if ".warc" in path.name)
    targets = []
    for path in files:
        with path.open("rb") as stream:
            targets += [record.rec_headers.get_header("WARC-Target-URI") or ""
                        for record in ArchiveIterator(stream, check_digests=False) if record.rec_type == "response"]
    settings = load_settings(store_dir=tmp_path / "store", release_dir=tmp_path / "releases", partitions=2)

    result = run_ingest(settings, files, progress=False, drain_timeout_s=300)

    assert result.published.framing_errors == []
    assert result.published.messages == result.published.warc_records == len(targets)
    assert result.run.records == len(targets)
    assert result.run.dead_letters == {}
    page_drops = sum(count for reason, count in result.run.drops.items() if reason in PAGE_DROP_REASONS)
    assert result.run.pages_with_faq + page_drops == len(targets)
    not_http = [uri for uri in targets if not uri.strip("<>").lower().startswith(("http:", "https:"))]
    assert result.run.drops["not_http"] == len(not_http) > 0
    assert "not_http" in result.summary()
