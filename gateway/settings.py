from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from gateway.access.settings import ConsoleTokenSettings
from gateway.webhooks.settings import WebhookSettings


class GatewaySettings(WebhookSettings, ConsoleTokenSettings):
    members_url: str = "http://127.0.0.1:8001"
    content_url: str = "http://127.0.0.1:8002"
    events_url: str = "http://127.0.0.1:8003"
    metrics_url: str = "http://127.0.0.1:8004"
    # Per call to a service: the longest wait for its next bytes (connect apart), longer for
    # CSV exports, whose first row may take a while; see gateway/traffic/routing.py.
    upstream_timeout_seconds: float = Field(default=10, gt=0)
    upstream_connect_timeout_seconds: float = Field(default=2, gt=0)
    upstream_export_timeout_seconds: float = Field(default=120, gt=0)
    # A service failing this many calls in a row is not called for `breaker_open_seconds`.
    breaker_failures: int = Field(default=5, ge=1)
    breaker_open_seconds: float = Field(default=5, gt=0)

    # A key registered at start (with every scope) for one workspace: the first way in.
    bootstrap_workspace_id: str = "ws_demo"
    bootstrap_api_key: str | None = None

    # Per API key, per gateway replica, per route class: reads (these two), writes, ingestion.
    rate_limit_per_second: float = Field(default=50, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    rate_limit_write_per_second: float = Field(default=50, gt=0)
    rate_limit_write_burst: int = Field(default=100, ge=1)
    rate_limit_ingest_per_second: float = Field(default=100, gt=0)
    rate_limit_ingest_burst: int = Field(default=200, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    # `/v1/ingest/*`: 1,000 messages of a few hundred bytes fit well within it.
    ingest_max_body_bytes: int = Field(default=5 * 1_048_576, ge=1)

    # Browser origins allowed to call the API (`https://console.example.com`), comma-separated
    # in QUNYUN_CORS_ALLOW_ORIGINS. None by default: a browser page elsewhere gets nothing.
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cors_max_age_seconds: int = Field(default=600, ge=0)
    # Where clients reach the API, for the OpenAPI document's `servers`; relative by default.
    public_url: str = "/"
    # How often the services' OpenAPI documents are fetched again; the merged one is rebuilt
    # only when one of them changed.
    openapi_refresh_seconds: float = Field(default=60, gt=0)

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    # How long a confirmed API key is trusted without asking the database again (how soon a
    # revocation bites), and how long past that while the database is unreachable.
    api_key_cache_seconds: float = Field(default=5, ge=0)
    api_key_outage_grace_seconds: float = Field(default=300, ge=0)
