from datetime import UTC, datetime

import pytest

from gateway.webhooks.catalog import event_types, matches, unknown_patterns
from gateway.webhooks.delivery import retry_after_seconds
from gateway.webhooks.dispatcher import EndpointRateLimits
from gateway.webhooks.outcomes import MAX_RETRY_AFTER_SECONDS, next_delay
from gateway.webhooks.settings import WebhookSettings

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_the_default_schedule_is_standard_webhooks_and_ends() -> None:
    settings = WebhookSettings(webhook_retry_jitter=0)
    delays = [next_delay(n, settings, None) for n in range(1, 9)]
    assert delays == [5, 300, 1800, 7200, 18000, 36000, 36000, None]


def test_jitter_spreads_each_delay_within_its_band() -> None:
    settings = WebhookSettings(webhook_retry_jitter=0.2)
    samples = {next_delay(2, settings, None) for _ in range(200)}
    assert all(240 <= s <= 360 for s in samples if s is not None)
    assert len(samples) > 100


def test_retry_after_is_never_undercut_and_is_capped() -> None:
    settings = WebhookSettings(webhook_retry_jitter=0)
    assert next_delay(1, settings, 120) == 120
    assert next_delay(3, settings, 10) == 1800
    assert next_delay(1, settings, 10**9) == MAX_RETRY_AFTER_SECONDS


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30", 30.0), ("Mon, 30 Nov 2026 12:01:00 GMT", 60.0), ("soon", None), (None, None)],
)
def test_retry_after_reads_seconds_and_http_dates(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, NOW) == seconds


def test_filters_match_exact_types_and_prefix_wildcards() -> None:
    t = "io.qunyun.member.status_changed.v1"
    assert matches(["*"], t)
    assert matches(["io.qunyun.member.*"], t)
    assert matches([t], t)
    assert not matches(["io.qunyun.group.*", "io.qunyun.member.joined.v1"], t)
    assert unknown_patterns(["io.qunyun.member.*", "io.qunyun.nothing.*"]) == [
        "io.qunyun.nothing.*"
    ]


def test_the_catalogue_lists_every_contract() -> None:
    types = event_types()
    assert "io.qunyun.moderation.violation_recorded.v1" in types
    assert "io.qunyun.member.assigned_to_group.v1" in types
    assert types["io.qunyun.webhook.endpoint_disabled.v1"][0] == "qunyun.webhooks.v1"


def test_a_rate_limited_endpoint_waits_its_turn() -> None:
    limits = EndpointRateLimits()
    waits = [limits.delay("whe_1", 2.0) for _ in range(4)]
    assert waits[:2] == [0.0, 0.0]
    assert waits[2] == pytest.approx(0.5, abs=0.05)
    assert waits[3] == pytest.approx(1.0, abs=0.05)
    assert limits.delay("whe_2", 2.0) == 0.0
