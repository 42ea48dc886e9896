"""Settings of outbound webhooks, read by the gateway (creating endpoints) and the dispatcher."""

import ipaddress
from functools import cached_property

from pydantic import Field, field_validator

from services.common.settings import ServiceSettings

# Standard Webhooks' suggested schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
STANDARD_SCHEDULE = "0,5,300,1800,7200,18000,36000,36000"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class WebhookSettings(ServiceSettings):
    # Delays before each attempt, in seconds, comma-separated; the first is the first attempt.
    # After the last one fails, the message is marked failed.
    webhook_retry_schedule: str = STANDARD_SCHEDULE
    # Each delay is spread by up to ± this fraction, so a recovering receiver is not hit by a
    # whole backlog at the same second.
    webhook_retry_jitter: float = Field(default=0.2, ge=0, le=1)
    webhook_attempt_timeout_seconds: float = Field(default=15, gt=0)
    # An endpoint whose deliveries all failed for this long is disabled (default 5 days).
    webhook_disable_after_seconds: float = Field(default=5 * 86400, gt=0)
    # Deliveries in flight: overall per dispatcher replica, and per endpoint.
    webhook_max_in_flight: int = Field(default=256, ge=1)
    webhook_endpoint_max_in_flight: int = Field(default=32, ge=1)
    # Destinations in these networks (comma-separated CIDRs) are allowed although private,
    # loopback or link-local; `make run` allow-lists loopback, production nothing.
    webhook_allowed_networks: str = ""
    # Both secrets sign deliveries for this long after a rotation, unless the call says otherwise.
    webhook_rotation_overlap_seconds: float = Field(default=86400, ge=0)
    # Delivered and failed messages and their attempts are kept this long.
    webhook_retention_days: float = Field(default=30, gt=0)
    webhook_response_excerpt_bytes: int = Field(default=1024, ge=0)
    # Messages of one ordering key claimed at once and sent one after the other without a
    # database round trip between them: claims and their scans of the queue are shared by
    # this many deliveries of a busy community. 1 claims queue heads only.
    webhook_claim_depth: int = Field(default=16, ge=1, le=1000)
    # The dispatcher's outbox carries only `endpoint_disabled`, a rare event: its relay need
    # not ask the database five times a second (60 ms of CPU a second, idle).
    outbox_poll_seconds: float = Field(default=1.0, gt=0)

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _schedule_is_numbers(cls, value: str) -> str:
        delays = [float(part) for part in value.split(",") if part.strip()]
        if not delays or any(d < 0 for d in delays):
            raise ValueError("a comma-separated list of non-negative seconds")
        return value

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)
        return value

    @cached_property
    def retry_delays(self) -> list[float]:
        return [float(part) for part in self.webhook_retry_schedule.split(",") if part.strip()]

    @cached_property
    def allowed_networks(self) -> list[Network]:
        return [
            ipaddress.ip_network(part.strip(), strict=False)
            for part in self.webhook_allowed_networks.split(",")
            if part.strip()
        ]

    @property
    def lease_seconds(self) -> float:
        """How long a claimed message is another replica's: past it, a crashed replica's
        deliveries are taken over (and sent again: at least once)."""
        return self.webhook_attempt_timeout_seconds * 2 + 5
