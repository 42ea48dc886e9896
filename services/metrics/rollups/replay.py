"""Folding the events parked for a group or community, in the transaction that registers it.

The replica's handlers call these after the upsert: the parked chat of a group (or of every
group of a community that arrived after its groups) goes through the fold as one batch, its
parked joins and leaves are applied in the order they happened, the
parked activity of a community one event at a time, and each is deleted as it is taken."""

from datetime import datetime, timedelta

from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.metrics import telemetry
from services.metrics.parking import service as parking
from services.metrics.replica.membership import MEMBERSHIP_TYPES, membership_changed
from services.metrics.rollups.activity import ACTIVITY_TYPES, count_activity
from services.metrics.rollups.messages import fold_messages


def replay_for_group(session: Session, *, workspace_id: str, group_id: str) -> int:
    """Fold the chat parked for a group the replica has just learnt (or renamed); how many."""
    parking.hold_workspaces(session, [workspace_id], exclusive=True)
    waiting = parking.take_group_events(session, workspace_id=workspace_id, group_id=group_id)
    return _fold(session, waiting)


def replay_for_community(session: Session, *, workspace_id: str, community_id: str) -> int:
    """Fold what waited on a community the replica has just learnt: its activity, and chat of
    its groups that were known before it was; how many."""
    parking.hold_workspaces(session, [workspace_id], exclusive=True)
    waiting = parking.take_group_events(
        session, workspace_id=workspace_id, community_id=community_id
    )
    replayed = _fold(session, waiting)
    for event in parking.take_community_events(session, community_id=community_id):
        if count_activity(session, event):
            telemetry.PARKED.labels(event.type, "replayed").inc()
            replayed += 1
    return replayed


def _fold(session: Session, waiting: list[CloudEvent]) -> int:
    """Fold what waited on groups: chat as one batch, then joins and leaves one at a time in
    the order they happened."""
    messages = [e for e in waiting if e.type == telemetry.CHAT_MESSAGE_TYPE]
    replayed = 0
    if messages:
        result = fold_messages(session, messages)
        telemetry.observe_fold(result)
        telemetry.PARKED.labels(telemetry.CHAT_MESSAGE_TYPE, "replayed").inc(result.folded)
        replayed += result.folded
    for event in waiting:
        if event.type in MEMBERSHIP_TYPES:
            membership_changed(session, event, park=False)
            telemetry.PARKED.labels(event.type, "replayed").inc()
            replayed += 1
    return replayed


def expire_parked(session: Session, now: datetime, *, retention: timedelta) -> int:
    """The periodic job: forget what waited longer than `retention` for a group or community
    nobody registered, and say how many wait still."""
    expired = parking.expire_parked(session, now=now, retention=retention)
    for event_type, count in expired.items():
        telemetry.PARKED.labels(event_type, "expired").inc(count)
    waiting = parking.parked_counts(session)
    for event_type in {*waiting, *ACTIVITY_TYPES, *MEMBERSHIP_TYPES, telemetry.CHAT_MESSAGE_TYPE}:
        telemetry.PARKED_NOW.labels(event_type).set(waiting.get(event_type, 0))
    return sum(expired.values())
