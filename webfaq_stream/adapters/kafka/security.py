"""Kafka connection and security options, derived from :class:`~webfaq_stream.settings.Settings`.

In: validated settings (``load_settings()`` already checked that SASL settings are complete
and that certificate files exist). Out:

- :func:`kafka_client_kwargs`: keyword arguments for kafka-python's ``KafkaProducer``,
  ``KafkaConsumer`` and ``KafkaAdminClient`` (``bootstrap_servers``, ``security_protocol``,
  ``sasl_mechanism``, ``sasl_plain_username``/``sasl_plain_password``, ``ssl_cafile``,
  ``ssl_certfile``, ``ssl_keyfile``, ``ssl_check_hostname``), only the keys that apply;
- :func:`faust_broker_urls` and :func:`faust_broker_credentials`: the ``broker=`` and
  ``broker_credentials=`` arguments of ``faust.App`` (``SASLCredentials`` with an SSL
  context for SASL_SSL, ``SSLCredentials`` for SSL, ``None`` for PLAINTEXT);
- :func:`ssl_context`: the ``ssl.SSLContext`` both use.

The returned dicts hold the SASL password in clear (the clients need it): pass them to the
client, never log them. Faust is imported only when Faust credentials are asked for.
"""

from __future__ import annotations

import ssl
from typing import Any

from webfaq_stream.errors import ConfigurationError
from webfaq_stream.settings import Settings, env_name


def bootstrap_servers(settings: Settings, bootstrap: str | None = None) -> list[str]:
    """``host:port`` of each bootstrap server (``bootstrap`` overrides the settings', e.g. the
    embedded broker's address); raises ``ConfigurationError`` when neither is set."""
    servers = bootstrap or settings.kafka_bootstrap
    if not servers:
        raise ConfigurationError(f"{env_name('kafka_bootstrap')}: not set (the embedded broker is in use)")
    return [server.strip() for server in servers.split(",") if server.strip()]


def kafka_client_kwargs(settings: Settings, bootstrap: str | None = None) -> dict[str, Any]:
    """kafka-python client keyword arguments for the configured cluster (or ``bootstrap``) and security."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(settings, bootstrap),
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol.startswith("SASL_"):
        assert settings.kafka_sasl_password is not None  # checked by Settings
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        kwargs["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_check_hostname"] = settings.kafka_ssl_check_hostname
        for name in ("cafile", "certfile", "keyfile"):
            path = getattr(settings, f"kafka_ssl_{name}")
            if path is not None:
                kwargs[f"ssl_{name}"] = str(path)
    return kwargs


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A client TLS context trusting ``kafka_ssl_cafile`` (else the system CAs), with mTLS if set."""
    try:
        context = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None)
        if settings.kafka_ssl_certfile and settings.kafka_ssl_keyfile:
            context.load_cert_chain(str(settings.kafka_ssl_certfile), str(settings.kafka_ssl_keyfile))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigurationError(
            f"{env_name('kafka_ssl_cafile')}/{env_name('kafka_ssl_certfile')}: cannot load: {exc}") from None
    context.check_hostname = settings.kafka_ssl_check_hostname  # the chain is verified either way
    return context


def faust_broker_urls(settings: Settings, bootstrap: str | None = None) -> list[str]:
    """``faust.App(broker=...)``: one ``kafka://host:port`` URL per bootstrap server."""
    return [f"kafka://{server}" for server in bootstrap_servers(settings, bootstrap)]


def faust_broker_credentials(settings: Settings) -> Any:
    """``faust.App(broker_credentials=...)``: ``SASLCredentials``, ``SSLCredentials`` or ``None``."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    from faust.auth import SASLCredentials, SSLCredentials

    if protocol == "SSL":
        return SSLCredentials(ssl_context(settings))
    assert settings.kafka_sasl_password is not None  # checked by Settings
    return SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=ssl_context(settings) if protocol == "SASL_SSL" else None,
    )
