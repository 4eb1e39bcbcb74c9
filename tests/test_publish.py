"""Publishing WARC and JSON-lines files onto the embedded broker, keyed by origin."""

from __future__ import annotations

import json
from pathlib import Path

from webfaq_stream.adapters.crawl_files import Page, write_warc_file
from webfaq_stream.adapters.kafka.broker import EmbeddedBroker
from webfaq_stream.adapters.kafka.client import consume_all
from webfaq_stream.adapters.kafka.security import kafka_client_kwargs
from webfaq_stream.decode.records import decode_record
from webfaq_stream.domain.ids import origin_of
from webfaq_stream.settings import load_settings
from webfaq_stream.worker.publish import publish_files

PAGES = {
    "mailchimp.com__features-email.html": "https://mailchimp.com/features/email/",
    "yeti.com__rambler-20oz.html": "https://www.yeti.com/drinkware/rambler-20oz",
    "huel.com__huel-black-edition.html": "https://huel.com/products/huel-black-edition",
}


def test_publish_warc_and_envelopes(broker: EmbeddedBroker, fixture_pages: Path, tmp_path: Path) -> None:
    pages = [Page(url, (fixture_pages / name).read_bytes()) for name, url in PAGES.items()]
    warc = tmp_path / "crawl.warc.gz"
    write_warc_file(warc, pages)
    envelopes = tmp_path / "rows.jsonl"
    envelopes.write_text("\n".join([
        json.dumps({"url": "https://example.org/faq", "warc_date": "2026-01-01T00:00:00Z",
                    "faq": [{"question": "What is this example?", "answer": "An example row."}]}),
        "",
        json.dumps({"html": "<p>no url</p>"}),
    ]) + "\n")
    settings = load_settings(kafka_bootstrap=broker.bootstrap, partitions=3)
    result = publish_files(settings, [warc, envelopes], progress=False)
    assert (result.messages, result.warc_records, result.envelopes) == (5, 3, 2)
    assert sum(offset + 1 for offset in result.last_offsets.values()) == 5

    options = kafka_client_kwargs(settings)
    received = consume_all(options, settings.topic, expected=5, timeout_s=20)
    assert len(received) == 5
    by_key: dict[bytes | None, list] = {}
    for key, value, headers, partition, offset in received:
        by_key.setdefault(key, []).append((value, headers, partition))
    assert by_key[None][0][1]["content-type"] == b"application/json"
    for page in pages:
        [(value, headers, _partition)] = by_key[origin_of(page.url).encode()]
        assert headers["content-type"] == b"application/warc"
        record = decode_record(value)
        assert (record.url, record.html) == (page.url, page.html)
    # the dead-letter topic exists too
    assert consume_all(options, settings.dead_letter_topic, expected=1, timeout_s=1) == []

