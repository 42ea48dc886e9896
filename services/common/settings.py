"""Settings every process shares, read from `QUNYUN_*` environment variables."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUNYUN_", extra="ignore")

    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/qunyun"
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    kafka_partitions: int = Field(default=3, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    # Put before every topic and consumer group name, so several environments (or test runs)
    # can share one cluster without seeing each other's events.
    kafka_topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")
    # The gateway adds this header to every call it forwards; services refuse calls without it.
    internal_token: str = "dev-internal-token"
    log_level: str = "INFO"

    outbox_relay_enabled: bool = True
    outbox_poll_seconds: float = Field(default=0.2, gt=0)
    outbox_batch_size: int = Field(default=500, ge=1)
    # Sent rows are kept this long for inspection, then deleted by the relay.
    outbox_retention_hours: float = Field(default=24, ge=0)

    periodic_enabled: bool = True
    consumer_enabled: bool = True
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_backoff_seconds: float = Field(default=0.2, ge=0)
    consumer_backoff_max_seconds: float = Field(default=5.0, ge=0)
    # How long a consumer's poll waits for a first record; a stopping consumer finishes its
    # poll first, so this bounds a stop. Tests shorten it: each test stops its services.
    consumer_poll_seconds: float = Field(default=0.5, gt=0)
    # Bounds of one batch transaction for services with batch handlers: large enough that the
    # per-transaction cost (commit, offset commit) vanishes, small enough that a batch takes
    # well under a second and a split to find a poison event stays short.
    # Unset: the service's own (`ServiceSpec.batch_max_events`).
    consumer_batch_max_events: int | None = Field(default=None, ge=1)
    consumer_batch_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Longer than Kafka's retention, so no redelivery can outlive the memory of an event id.
    processed_event_retention_days: int = Field(default=30, ge=1)
