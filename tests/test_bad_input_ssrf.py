"""No SSRF: records full of URLs pointing at a listening local server make the daemon's decoding and
extraction contact nothing.

Every place a page can name a URL that a careless parser fetches (JSON-LD ``@context``, RDFa
``vocab``/``prefix``/``rdfa:copy``, microdata ``itemtype``/``itemref``, ``<base>``, ``<img>``,
``<link>``, ``<iframe>``, XML stylesheets, external DTD and entities naming http and file URLs, an
envelope's ``url``) points at a TCP listener on the loopback; after the whole set has gone through
``decode_record`` and the pipeline, the listener has accepted no connection.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest
from bad_inputs.corpus import DATE, envelope, warc

from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.pipeline import Pipeline, RawMessage


@pytest.fixture()
def listener() -> Iterator[tuple[str, list[bytes]]]:
    """A loopback TCP server recording what any connection sends; yields (base URL, requests)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with connection:
                connection.settimeout(1.0)
                try:
                    seen.append(connection.recv(4096) or b"<connected>")
                except OSError:
                    seen.append(b"<connected>")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", seen
    finally:
        stop.set()
        thread.join(5)
        server.close()


def hostile_pages(base: str) -> list[bytes]:
    question = "Does this page make the crawler fetch anything"
    answer = "It must not: every URL in it is only text to the extractor."
    jsonld = json.dumps({"@context": f"{base}/context.jsonld", "@type": "FAQPage", "@id": f"{base}/id",
                         "mainEntity": {"@type": "Question", "name": question, "url": f"{base}/q",
                                        "acceptedAnswer": {"@type": "Answer", "text": answer,
                                                           "image": f"{base}/a.png"}}})
    return [
        f'<html><head><base href="{base}/base/"><link rel="stylesheet" href="{base}/s.css">'
        f'<script type="application/ld+json">{jsonld}</script><script src="{base}/x.js"></script></head>'
        f'<body><img src="{base}/i.png"><iframe src="{base}/frame"></iframe></body></html>'.encode(),
        f'<html><body vocab="{base}/vocab/" prefix="ex: {base}/prefix/" typeof="schema:FAQPage ex:Thing">'
        f'<link property="rdfa:copy" href="{base}/copy"/><div property="schema:mainEntity" typeof="schema:Question">'
        f'<h3 property="schema:name">{question}</h3><div property="schema:acceptedAnswer" typeof="schema:Answer">'
        f'<p property="schema:text" datatype="{base}/type">{answer}</p></div></div></body></html>'.encode(),
        f'<html><body itemscope itemtype="{base}/FAQPage https://schema.org/FAQPage" itemref="r"><div '
        f'itemscope itemprop="mainEntity" itemtype="https://schema.org/Question" itemid="{base}/item">'
        f'<h3 itemprop="name">{question}</h3><div itemscope itemprop="acceptedAnswer" '
        f'itemtype="https://schema.org/Answer"><div itemprop="text">{answer}</div><a itemprop="url" '
        f'href="{base}/link">x</a></div></div></body></html>'.encode(),
        f'<?xml version="1.0"?><?xml-stylesheet href="{base}/style.xsl" type="text/xsl"?>'
        f'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML+RDFa 1.1//EN" "{base}/dtd">'
        f'<html xmlns="http://www.w3.org/1999/xhtml"><body typeof="https://schema.org/FAQPage">'
        f'<p property="https://schema.org/name">{question}</p></body></html>'.encode(),
        f'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY remote SYSTEM "{base}/entity">'
        f'<!ENTITY % param SYSTEM "{base}/param"> %param;]><html><body vocab="https://schema.org/" '
        f'typeof="FAQPage"><div property="mainEntity" typeof="Question"><h3 property="name">{question}</h3>'
        f'<div property="acceptedAnswer" typeof="Answer"><p property="text">&remote;</p></div></div>'
        f"</body></html>".encode(),
    ]


def test_no_url_in_a_record_is_ever_fetched(listener: tuple[str, list[bytes]]) -> None:
    base, seen = listener
    messages = [RawMessage(*warc(page, url=f"{base}/page")) for page in hostile_pages(base)]  # type: ignore[misc]
    messages += [RawMessage(*warc(page, url=f"{base}/page", content_type="application/xhtml+xml"))  # type: ignore[misc]
                 for page in hostile_pages(base)]
    messages.append(RawMessage(*envelope({"url": f"{base}/envelope", "warc_date": DATE,  # type: ignore[misc]
                                          "html": hostile_pages(base)[0].decode(),
                                          "json_ld": [json.dumps({"@context": f"{base}/ctx"})]})))
    result = Pipeline(LanguageTagger()).run(messages)
    assert result.records == len(messages) and not result.dead_letters
    assert result.pages_with_faq >= 3  # the pages were really extracted, not refused early
    assert seen == [], f"the extractor contacted {base}: {seen[:3]}"
