"""Alert thresholds: defaults by community purpose (rule 1), a community's own on top."""

from datetime import datetime
from typing import Any

from sqlmodel import Session

from services.metrics.alerts.models import AlertThresholds, Thresholds, ThresholdsUpdate
from services.metrics.replica.models import Community

# What differs from the plain defaults, by purpose: a networking group is quiet for days
# without trouble; a paid course that goes quiet for two days is losing its customers, and
# one lesson its members paid for that was not posted is already worth an operator's look.
PURPOSE_DEFAULTS: dict[str, dict[str, Any]] = {
    "networking": {"silent_days": 7, "broadcast_only_days": 10},
    "interest": {"silent_days": 3},
    "paid_knowledge": {"silent_days": 2, "broadcast_only_days": 5, "publication_failures_min": 1},
    "value_added_service": {"silent_days": 2, "publication_failures_min": 1},
    "product_sales": {"negative_spike_min": 3, "broadcast_only_days": 10},
    "brand": {"negative_spike_min": 3},
    "personal_influence": {"broadcast_only_days": 12},
}


def defaults_for(purpose: str) -> Thresholds:
    return Thresholds.model_validate(PURPOSE_DEFAULTS.get(purpose, {}))


def thresholds_of(session: Session, community: Community) -> Thresholds:
    own = session.get(AlertThresholds, community.community_id)
    base = defaults_for(community.purpose).model_dump()
    return Thresholds.model_validate(base | (own.overrides if own else {}))


def update_thresholds(
    session: Session, *, community: Community, update: ThresholdsUpdate, at: datetime
) -> Thresholds:
    """Lay `update` over the community's own thresholds; a null drops one back to default."""
    own = session.get(AlertThresholds, community.community_id) or AlertThresholds(
        community_id=community.community_id,
        workspace_id=community.workspace_id,
        overrides={},
        updated_at=at,
    )
    overrides = dict(own.overrides)
    for name, value in update.model_dump(exclude_unset=True).items():
        if value is None:
            overrides.pop(name, None)
        else:
            overrides[name] = value
    own.overrides, own.updated_at = overrides, at
    session.add(own)
    return thresholds_of(session, community)
