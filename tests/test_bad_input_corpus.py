"""The bad-input corpus (``tests/bad_inputs/EXPECTED.tsv``): every hostile or broken record ends as a
dead letter or a dropped page with its named reason, in bounded time, and never disturbs the records
around it.

Fast direct tests decode and run each case through the pipeline; one test runs the whole corpus
through the real worker via the broker, interleaved with the good sample crawl; the publisher's
path for records over the producer's size limit is tested on its own.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from bad_inputs import report
from bad_inputs.corpus import GENERATORS, HERE, MiB, cases, hundred_megabytes
from bad_inputs.stream import stored_ids_and_stats

from webfaq_stream.adapters.crawl_files import (
    CrawlFileError,
    Page,
    read_messages,
    warc_response_bytes,
    write_warc_file,
)
from webfaq_stream.adapters.kafka.client import (
    Publisher,
    RecordTooLargeError,
    consume_all,
    ensure_topics,
    wait_drained,
)
from webfaq_stream.decode.records import decode_record
from webfaq_stream.domain.ids import origin_of
from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.model import PageDropped
from webfaq_stream.domain.pipeline import Pipeline, RawMessage
from webfaq_stream.errors import RecordError
from webfaq_stream.settings import load_settings
from webfaq_stream.worker.publish import publish_files

CASES = cases()
#: Seconds one bad record may take through decoding and the pipeline (page budget is 2 s).
CASE_TIME_LIMIT_S = 10.0


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(LanguageTagger())


def test_the_table_names_every_generator_and_file_once() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names)) >= 40
    assert {case.name for case in CASES if case.source == "generator"} == set(GENERATORS)
    files = {case.source for case in CASES if case.source != "generator"}
    assert files == {f"pywb/{path.name}" for path in (HERE / "pywb").iterdir() if path.name != "README.md"}
    assert {case.outcome for case in CASES} == {"dead_letter", "dropped"}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_bad_input_ends_with_its_reason(case, pipeline: Pipeline) -> None:
    value, headers = case.make()
    started = time.monotonic()
    try:
        decode_record(value, headers)
        decoded = "decoded"
    except RecordError as exc:
        decoded = exc.reason
    except PageDropped as exc:
        decoded = exc.reason
    if case.outcome == "dead_letter":
        assert decoded == case.reason, f"decode gave {decoded}"
    result = pipeline.run([RawMessage(value, None, tuple(headers))])
    seconds = time.monotonic() - started
    assert result.records == 1 and not result.pairs
    if case.outcome == "dead_letter":
        assert [letter.reason for letter in result.dead_letters] == [case.reason]
        assert not result.drops
    else:
        assert not result.dead_letters
        assert set(result.drops) & set(case.reason.split("|")), dict(result.drops)
        assert result.pages_with_faq <= 1
    assert seconds < CASE_TIME_LIMIT_S, f"{case.name} took {seconds:.1f}s"


def test_entities_are_never_expanded_or_resolved(pipeline: Pipeline) -> None:
    """Billion laughs and XXE: no 'lol' flood, no local file content in any extracted text."""
    from webfaq_stream.extract.page import extract_faq

    for name in ("xml_billion_laughs_xhtml", "xml_external_entity_rdfa", "svg_entity_expansion_microdata"):
        value, headers = GENERATORS[name]()
        record = decode_record(value, headers)
        page = extract_faq(record.html, record.url, charset=record.charset)
        text = " ".join(f"{pair.question} {pair.answer}" for pair in page.pairs) + page.title
        assert "lollol" not in text and "root:" not in text, (name, text[:200])
        assert len(page.pairs) <= 1


def test_pywb_files_through_the_file_reader(tmp_path: Path) -> None:
    """The publisher's file reader takes pywb's broken archives without crashing: messages or a
    clear ``CrawlFileError``."""
    outcomes = {}
    for path in sorted((HERE / "pywb").iterdir()):
        if path.name == "README.md":
            continue
        try:
            outcomes[path.name] = len(list(read_messages([path])))
        except CrawlFileError as exc:
            outcomes[path.name] = str(exc)
    assert set(outcomes) >= {"bad.arc", "example-bad.warc.gz.bad", "missing-status-text.warc"}
    assert isinstance(outcomes["missing-status-text.warc"], int)  # one response record in it
    assert isinstance(outcomes["bad.arc"], str) and "bad.arc" in outcomes["bad.arc"]


def test_publisher_refuses_a_hundred_megabyte_record_clearly_and_goes_on(broker, tmp_path: Path) -> None:
    options = {"bootstrap_servers": broker.bootstrap}
    ensure_topics(options, {"crawl": 1})
    good = warc_response_bytes(Page("https://ok.example/faq", b"<html><body>ok</body></html>"))
    big, _ = hundred_megabytes()
    with Publisher(options, "crawl") as publisher:
        publisher.send(good)
        with pytest.raises(RecordTooLargeError, match=r"104,8\d\d,\d\d\d bytes .* max_request_size"):
            publisher.send(big)  # type: ignore[arg-type]
        publisher.send(good)
        assert publisher.flush() == {0: 1}

    crawl = tmp_path / "crawl.warc"  # the same through `webfaq-stream publish` (gzip: incompressible)
    write_warc_file(crawl, [Page("https://ok.example/a", b"<p>a</p>"),
                            Page("https://big.example/", random.Random(5).randbytes(20 * MiB)),
                            Page("https://ok.example/b", b"<p>b</p>")], compress=False)
    result = publish_files(load_settings(kafka_bootstrap=broker.bootstrap, topic="files", partitions=1),
                           [crawl], progress=False)
    assert result.messages == 2 and result.skipped == {"too_large": 1}
    assert len(consume_all(options, "files", expected=2, timeout_s=20)) == 2


def test_the_corpus_through_the_worker_between_good_records(broker, sample_crawl, worker_processes,
                                                            worker_env, tmp_path: Path) -> None:
    settings = load_settings(kafka_bootstrap=broker.bootstrap, store_dir=tmp_path / "store",
                             release_dir=tmp_path / "releases", partitions=2, batch_size=8)
    options = {"bootstrap_servers": broker.bootstrap}
    ensure_topics(options, {settings.topic: 2, settings.dead_letter_topic: 1})
    good = [(warc_response_bytes(page), origin_of(page.url).encode()) for page in sample_crawl.pages]
    sent: dict[tuple[int, int], str] = {}  # (partition, offset) -> case name
    refused = []
    good_sent = 0
    publisher = Publisher(options, settings.topic)
    for index, case in enumerate(CASES):
        value, headers = case.make()
        good_value, key = good[index % len(good)]
        publisher.send(good_value, key)  # the bad record shares a partition with good ones
        good_sent += 1
        try:
            future = publisher.send(value, key, headers)  # type: ignore[arg-type]
        except RecordTooLargeError:
            refused.append(case.name)
            continue
        metadata = future.get(timeout=60)
        sent[(metadata.partition, metadata.offset)] = case.name
    for value, key in good[len(CASES) % len(good):]:  # every good page at least once
        publisher.send(value, key)
        good_sent += 1
    last_offsets = publisher.flush()
    publisher.close()
    assert refused == ["hundred_megabytes"]  # the producer's limit; its decode path is tested above

    worker = worker_processes(WEBFAQ_KAFKA_BOOTSTRAP=broker.bootstrap, WEBFAQ_STORE_DIR=str(settings.store_dir),
                              WEBFAQ_RELEASE_DIR=str(settings.release_dir), WEBFAQ_BATCH_SIZE="8")
    started = time.monotonic()
    wait_drained(options, settings.consumer_group, settings.topic, last_offsets, timeout_s=240,
                 alive=lambda: worker.poll() is None)
    drained_s = time.monotonic() - started
    peak_rss_mb = _peak_rss_mb(worker.pid)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0, Path(worker.log_path).read_text()[-3000:]

    by_name = {case.name: case for case in CASES}
    expected_letters = {source: by_name[name].reason for source, name in sent.items()
                        if by_name[name].outcome == "dead_letter"}
    letters = consume_all(options, settings.dead_letter_topic, expected=len(expected_letters), timeout_s=60)
    got = {(int(h["source-partition"]), int(h["source-offset"])): h["reason"].decode()
           for _key, _value, h, _p, _o in letters}
    assert got == expected_letters

    stored, stats = stored_ids_and_stats(settings)
    assert stored == sample_crawl.expected_ids  # every good record processed, nothing from the bad ones
    assert stats.records == good_sent + len(sent)
    assert stats.dead_letters == dict(Counter(expected_letters.values()))
    for name in sent.values():
        case = by_name[name]
        if case.outcome == "dropped":
            assert any(stats.drops.get(reason, 0) for reason in case.reason.split("|")), (name, stats.drops)
    assert peak_rss_mb < 2048, f"worker peaked at {peak_rss_mb:.0f} MB"
    report.record("bad-input corpus", bad_inputs_tried=len(CASES), bad_inputs_through_worker=len(sent),
                  refused_by_producer=len(refused), dead_letters=len(got),
                  good_records_lost=len(sample_crawl.expected_ids - stored), drain_seconds=round(drained_s),
                  worker_peak_rss_mb=round(peak_rss_mb))


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")
