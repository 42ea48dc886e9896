"""The content service's settings, read from `QUNYUN_*` environment variables."""

from pydantic import Field

from services.common.settings import ServiceSettings


class ContentSettings(ServiceSettings):
    # An occurrence missed by less than this (the service was down) is published late and
    # marked late; an older one is recorded as skipped, never published in a burst.
    publication_grace_minutes: float = Field(default=120, gt=0)
    # A dispatched publication with no result from its bot after this long is expired.
    publication_expiry_minutes: float = Field(default=30, gt=0)
    # Dispatched later than this after its occurrence, a publication is marked late.
    publication_late_after_seconds: float = Field(default=60, ge=0)
    # Often enough that a post goes out well within a second of its time (lateness p99 < 1 s).
    dispatch_every_seconds: float = Field(default=0.25, gt=0)
    # Most occurrences one dispatch pass turns into publications (the rest wait one pass).
    dispatch_batch: int = Field(default=2000, ge=1)
    # The members service's internal API, asked for a segment's members at dispatch time.
    members_url: str = "http://127.0.0.1:8001"
    members_timeout_seconds: float = Field(default=3.0, gt=0)
