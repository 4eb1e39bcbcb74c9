"""Credentials stay out of logs and release files (SECURITY.md, claim 4)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np

from webfaq_stream.adapters.qdrant.opener import open_pair_store
from webfaq_stream.domain.model import StoredPair
from webfaq_stream.release.build import write_release
from webfaq_stream.settings import Settings, load_settings, secret_values
from webfaq_stream.worker.logs import configure_logging

SASL_PASSWORD = "sasl-pass-7f3e9c"
API_KEY = "qdrant-key-51ab0d"
URL_PASSWORD = "url-pass-c0ffee"


def _settings(tmp_path: Path) -> Settings:
    return load_settings(store_dir=tmp_path / "store", release_dir=tmp_path / "releases",
                         kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="PLAIN",
                         kafka_sasl_username="webfaq", kafka_sasl_password=SASL_PASSWORD,
                         qdrant_api_key=API_KEY, qdrant_url=f"https://webfaq:{URL_PASSWORD}@qdrant.example:6333")


def test_logs_mask_every_credential_even_inside_urls(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    stream = io.StringIO()
    handler = configure_logging("INFO", "text", secret_values(settings), stream=stream)
    try:
        logging.getLogger("webfaq_stream.test").warning(
            "store %s key %s sasl %s; %r", settings.qdrant_url, API_KEY, SASL_PASSWORD, settings)
    finally:
        logging.getLogger().removeHandler(handler)
    text = stream.getvalue()
    assert "qdrant.example" in text
    for secret in (SASL_PASSWORD, API_KEY, URL_PASSWORD):
        assert secret not in text


def test_release_files_hold_no_credential(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    store = open_pair_store(url=None, api_key=None, path=settings.store_dir, collection=settings.collection)
    store.open(4)
    try:
        vector = (np.ones(4, dtype=np.float32) / 2).tolist()
        store.upsert([StoredPair(id="0" * 32, origin="https://a.example", url="https://a.example/faq",
                                 language="eng", language_score=0.9, question="What is in a release file",
                                 answer="Pairs, bitexts, a manifest and a dataset card.", title="", description="",
                                 first_seen="2026-11-20T12:00:00Z", last_seen="2026-11-20T12:00:00Z",
                                 vector=vector)])
        result = write_release(store, settings, progress=False)
    finally:
        store.close()
    files = [path for path in result.path.rglob("*") if path.is_file()]
    assert any(path.name == "manifest.json" for path in files)
    for path in files:
        data = path.read_bytes()
        for secret in (SASL_PASSWORD, API_KEY, URL_PASSWORD):
            assert secret.encode() not in data, f"{secret} in {path}"
