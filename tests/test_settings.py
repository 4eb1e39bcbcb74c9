"""Settings: environment and TOML sources, errors naming their variable, Kafka security helpers."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import certifi
import faust
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from webfaq_stream.adapters.kafka.security import (
    faust_broker_credentials,
    faust_broker_urls,
    kafka_client_kwargs,
    ssl_context,
)
from webfaq_stream.errors import ConfigurationError
from webfaq_stream.settings import (
    ENV_PREFIX,
    SECRET_FIELDS,
    Settings,
    load_settings,
    secret_values,
    value_sources,
)

SECRET = "pa55-w0rd-that-must-not-leak"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Each test starts from an environment without WEBFAQ_* variables."""
    import os

    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture()
def client_cert(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed client certificate and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webfaq-worker")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "client.pem", tmp_path / "client.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_defaults_run_everything_embedded():
    settings = load_settings()
    assert settings.kafka_bootstrap is None and settings.qdrant_url is None
    assert settings.web_port == 6066 and settings.log_format == "json"
    assert set(value_sources(settings).values()) == {"default"}


def test_environment_beats_toml_file_and_file_beats_defaults(clean_env, tmp_path):
    config = tmp_path / "webfaq.toml"
    config.write_text('batch_size = 128\ntopic = "from-file"\nkafka_bootstrap = "k1:9092, k2:9093"\n')
    clean_env.setenv("WEBFAQ_CONFIG", str(config))
    clean_env.setenv("WEBFAQ_BATCH_SIZE", "256")
    settings = load_settings()
    assert settings.batch_size == 256
    assert settings.topic == "from-file"
    assert settings.kafka_bootstrap == "k1:9092,k2:9093"
    sources = value_sources(settings)
    assert sources["batch_size"] == "env" and sources["topic"] == "file" and sources["collection"] == "default"


@pytest.mark.parametrize(("variable", "value"), [
    ("WEBFAQ_PARTITIONS", "four"),
    ("WEBFAQ_PARTITIONS", "0"),
    ("WEBFAQ_BATCH_SIZE", "-1"),
    ("WEBFAQ_BATCH_TIMEOUT_S", "0"),
    ("WEBFAQ_WEB_PORT", "70000"),
    ("WEBFAQ_LOG_LEVEL", "LOUD"),
    ("WEBFAQ_LOG_FORMAT", "xml"),
    ("WEBFAQ_KAFKA_SECURITY_PROTOCOL", "TLS"),
    ("WEBFAQ_KAFKA_SASL_MECHANISM", "MD5"),
    ("WEBFAQ_KAFKA_BOOTSTRAP", "kafka-without-port"),
    ("WEBFAQ_KAFKA_BOOTSTRAP", "kafka:notaport"),
    ("WEBFAQ_QDRANT_URL", "qdrant:6333"),
    ("WEBFAQ_NEAR_DUPLICATE_THRESHOLD", "1.5"),
    ("WEBFAQ_ALIGNMENT_THRESHOLD", "high"),
    ("WEBFAQ_RELEASE_RETENTION", "0"),
    ("WEBFAQ_KAFKA_SSL_CHECK_HOSTNAME", "perhaps"),
    ("WEBFAQ_SHUTDOWN_GRACE_S", "0"),
    ("WEBFAQ_KAFKA_SSL_CAFILE", "/no/such/ca.pem"),
])
def test_every_invalid_value_names_its_variable(clean_env, variable, value):
    clean_env.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert variable in str(caught.value)


def test_invalid_value_in_the_toml_file_names_variable_key_and_file(clean_env, tmp_path):
    config = tmp_path / "webfaq.toml"
    config.write_text('batch_size = "lots"\n')
    clean_env.setenv("WEBFAQ_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match=r"WEBFAQ_BATCH_SIZE \(key 'batch_size' in .*webfaq.toml\)"):
        load_settings()


def test_unknown_toml_key_suggests_the_right_one(clean_env, tmp_path):
    config = tmp_path / "webfaq.toml"
    config.write_text("batchsize = 8\n")
    clean_env.setenv("WEBFAQ_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match="unknown key 'batchsize' .*did you mean 'batch_size'"):
        load_settings()


@pytest.mark.parametrize("content", [None, "batch_size = \n"])
def test_missing_or_broken_config_file_names_webfaq_config(clean_env, tmp_path, content):
    config = tmp_path / "webfaq.toml"
    if content is not None:
        config.write_text(content)
    clean_env.setenv("WEBFAQ_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match="^WEBFAQ_CONFIG: "):
        load_settings()


def test_unknown_environment_variable_is_reported_with_the_closest_name(clean_env, caplog):
    clean_env.setenv("WEBFAQ_BATCHSIZE", "8")
    load_settings()
    assert "WEBFAQ_BATCHSIZE" in caplog.text and "WEBFAQ_BATCH_SIZE" in caplog.text


def test_sasl_without_credentials_names_the_missing_variables(clean_env):
    clean_env.setenv("WEBFAQ_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    clean_env.setenv("WEBFAQ_KAFKA_SASL_USERNAME", "worker")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "WEBFAQ_KAFKA_SASL_MECHANISM" in message and "WEBFAQ_KAFKA_SASL_PASSWORD" in message
    assert "WEBFAQ_KAFKA_SASL_USERNAME," not in message


def test_credentials_that_plaintext_would_not_send_are_an_error(clean_env):
    clean_env.setenv("WEBFAQ_KAFKA_SASL_PASSWORD", SECRET)
    with pytest.raises(ConfigurationError, match="WEBFAQ_KAFKA_SECURITY_PROTOCOL=PLAINTEXT") as caught:
        load_settings()
    assert SECRET not in str(caught.value)


def test_certificate_without_key_names_both_variables(clean_env, client_cert):
    clean_env.setenv("WEBFAQ_KAFKA_SSL_CERTFILE", str(client_cert[0]))
    with pytest.raises(ConfigurationError, match="WEBFAQ_KAFKA_SSL_CERTFILE, WEBFAQ_KAFKA_SSL_KEYFILE"):
        load_settings()


@pytest.mark.parametrize("field", sorted(SECRET_FIELDS))
def test_an_invalid_secret_is_named_but_never_echoed(clean_env, field):
    variable = ENV_PREFIX + field.upper()
    with pytest.raises(ConfigurationError) as caught:
        load_settings(**{field: ["not", "a", SECRET]})
    assert variable in str(caught.value) and SECRET not in str(caught.value)


def test_secrets_are_masked_everywhere_they_could_be_printed(clean_env):
    clean_env.setenv("WEBFAQ_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    clean_env.setenv("WEBFAQ_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    clean_env.setenv("WEBFAQ_KAFKA_SASL_USERNAME", "worker")
    clean_env.setenv("WEBFAQ_KAFKA_SASL_PASSWORD", SECRET)
    clean_env.setenv("WEBFAQ_QDRANT_API_KEY", "qdrant-key-0123")
    settings = load_settings()
    for text in (repr(settings), str(settings), str(settings.masked()), settings.model_dump_json()):
        assert SECRET not in text and "qdrant-key-0123" not in text
    assert sorted(secret_values(settings)) == sorted([SECRET, "qdrant-key-0123"])


def test_kafka_kwargs_for_sasl_ssl_are_accepted_by_every_kafka_python_client(clean_env, client_cert):
    settings = Settings(kafka_bootstrap="k1:9093,k2:9093", kafka_security_protocol="SASL_SSL",
                        kafka_sasl_mechanism="SCRAM-SHA-256", kafka_sasl_username="worker",
                        kafka_sasl_password=SECRET, kafka_ssl_cafile=Path(certifi.where()),
                        kafka_ssl_certfile=client_cert[0], kafka_ssl_keyfile=client_cert[1])
    kwargs = kafka_client_kwargs(settings)
    assert kwargs == {
        "bootstrap_servers": ["k1:9093", "k2:9093"], "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256", "sasl_plain_username": "worker", "sasl_plain_password": SECRET,
        "ssl_check_hostname": True, "ssl_cafile": certifi.where(),
        "ssl_certfile": str(client_cert[0]), "ssl_keyfile": str(client_cert[1]),
    }
    for client in (KafkaProducer, KafkaConsumer, KafkaAdminClient):
        assert set(kwargs) <= set(client.DEFAULT_CONFIG), client.__name__


def test_plaintext_kwargs_carry_no_security_options():
    kwargs = kafka_client_kwargs(Settings(kafka_bootstrap="localhost:9092"))
    assert kwargs == {"bootstrap_servers": ["localhost:9092"], "security_protocol": "PLAINTEXT"}


def test_kafka_kwargs_without_bootstrap_name_the_variable():
    with pytest.raises(ConfigurationError, match="WEBFAQ_KAFKA_BOOTSTRAP"):
        kafka_client_kwargs(Settings())


def test_faust_app_accepts_the_broker_and_credentials(client_cert):
    settings = Settings(kafka_bootstrap="k1:9093,k2:9093", kafka_security_protocol="SASL_SSL",
                        kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="worker",
                        kafka_sasl_password=SECRET, kafka_ssl_cafile=Path(certifi.where()),
                        kafka_ssl_certfile=client_cert[0], kafka_ssl_keyfile=client_cert[1])
    credentials = faust_broker_credentials(settings)
    app = faust.App("webfaq-settings-test", broker=faust_broker_urls(settings),
                    broker_credentials=credentials)
    assert [str(url) for url in app.conf.broker] == ["kafka://k1:9093", "kafka://k2:9093"]
    conf_credentials = app.conf.broker_credentials
    assert isinstance(conf_credentials, faust.SASLCredentials)
    assert conf_credentials.protocol.value == "SASL_SSL"
    assert conf_credentials.mechanism.value == "SCRAM-SHA-512"
    assert conf_credentials.password == SECRET and SECRET not in repr(conf_credentials)
    assert conf_credentials.ssl_context.verify_mode == ssl.CERT_REQUIRED


def test_faust_credentials_for_ssl_and_plaintext():
    tls = Settings(kafka_bootstrap="k:9093", kafka_security_protocol="SSL",
                   kafka_ssl_cafile=Path(certifi.where()), kafka_ssl_check_hostname=False)
    credentials = faust_broker_credentials(tls)
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.context.check_hostname is False
    assert credentials.context.verify_mode == ssl.CERT_REQUIRED
    assert faust_broker_credentials(Settings(kafka_bootstrap="k:9092")) is None


def test_a_key_that_does_not_match_is_a_configuration_error(tmp_path, client_cert):
    other = tmp_path / "other.key"
    other.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    settings = Settings(kafka_bootstrap="k:9093", kafka_security_protocol="SSL",
                        kafka_ssl_certfile=client_cert[0], kafka_ssl_keyfile=other)
    with pytest.raises(ConfigurationError, match="WEBFAQ_KAFKA_SSL_CERTFILE"):
        ssl_context(settings)
