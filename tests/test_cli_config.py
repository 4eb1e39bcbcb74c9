"""``webfaq-stream config``: every format, secrets never printed, TOML output round-trips."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib

import pytest

from webfaq_stream.cli.main import main
from webfaq_stream.settings import ENV_PREFIX, load_settings

SECRET = "sasl-secret-9f8e7d"
API_KEY = "qdrant-api-key-1a2b3c"


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    for name, value in {
        "KAFKA_BOOTSTRAP": "kafka-0:9092,kafka-1:9092", "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "worker", "KAFKA_SASL_PASSWORD": SECRET,
        "QDRANT_URL": "https://qdrant.example:6333", "QDRANT_API_KEY": API_KEY, "TOPIC": "crawl 'quoted'",
        "BATCH_SIZE": "200",
    }.items():
        monkeypatch.setenv(ENV_PREFIX + name, value)
    return monkeypatch


@pytest.mark.parametrize("fmt", ["toml", "json", "env"])
def test_no_format_prints_a_secret(env, capsys, fmt):
    assert main(["config", "--format", fmt, "--sources"]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out and API_KEY not in out
    assert "kafka-0:9092,kafka-1:9092" in out


def test_toml_output_loads_back_to_the_same_settings_except_secrets(env, capsys, tmp_path):
    main(["config"])
    text = capsys.readouterr().out
    document = tomllib.loads(text)
    assert document["batch_size"] == 200 and document["topic"] == "crawl 'quoted'"
    assert "kafka_sasl_password" not in document  # written as a comment, not as a fake value
    assert "# kafka_sasl_password is set (hidden)" in text
    expected = load_settings()
    config = tmp_path / "webfaq.toml"
    config.write_text(text)
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            env.delenv(name)
    env.setenv("WEBFAQ_CONFIG", str(config))
    env.setenv("WEBFAQ_KAFKA_SASL_PASSWORD", SECRET)  # secrets come from the environment or a Secret
    reloaded = load_settings()
    assert reloaded.model_dump(exclude={"qdrant_api_key"}) == expected.model_dump(exclude={"qdrant_api_key"})


def test_json_masks_secrets_and_says_where_values_came_from(env, capsys):
    main(["config", "--format", "json", "--sources"])
    document = json.loads(capsys.readouterr().out)
    assert document["settings"]["kafka_sasl_password"] == "********"
    assert document["settings"]["qdrant_api_key"] == "********"
    assert document["settings"]["batch_size"] == 200
    assert document["sources"]["batch_size"] == "env" and document["sources"]["collection"] == "default"


def test_env_output_is_valid_shell_that_reproduces_the_values(env, capsys):
    main(["config", "--format", "env"])
    text = capsys.readouterr().out
    assert "# WEBFAQ_KAFKA_SASL_PASSWORD is set (hidden)" in text
    script = text + '\nprintf "%s|%s|%s" "$WEBFAQ_TOPIC" "$WEBFAQ_BATCH_SIZE" "$WEBFAQ_KAFKA_SSL_CHECK_HOSTNAME"'
    shown = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env={}, check=True).stdout
    assert shown == "crawl 'quoted'|200|true"
    assert any(line.startswith("export WEBFAQ_TOPIC=") for line in text.splitlines())
    assert shlex.split(text.splitlines()[1])[0] == "export"


def test_invalid_configuration_exits_2_naming_the_variable_without_the_secret(env):
    env.setenv("WEBFAQ_KAFKA_SASL_MECHANISM", "MD5")
    result = subprocess.run([sys.executable, "-m", "webfaq_stream.cli", "config"],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "WEBFAQ_KAFKA_SASL_MECHANISM" in result.stderr
    assert SECRET not in result.stderr + result.stdout


def test_help_explains_with_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["config", "--help"])
    out = capsys.readouterr().out
    assert "--format {toml,json,env}" in out and "examples:" in out
