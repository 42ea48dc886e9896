"""Opening and resolving alerts: each opens once and resolves once, both as events through
the outbox, so a flapping condition does not become a storm of webhooks.

A pass finds each condition for every open group and community. An alert opens the first
time its condition is found; it resolves only after the condition has been over for
`clear_checks` passes in a row, and a condition found again meanwhile starts the count anew.
"""

from collections import Counter
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.common.clock import as_utc, local_day
from services.common.contracts import AlertOpened, AlertResolved
from services.common.http.pagination import PageParams, desc, paginate
from services.common.ids import new_id
from services.common.outbox import emit
from services.metrics import telemetry
from services.metrics.alerts.models import Alert, AlertPublic, Thresholds
from services.metrics.alerts.publications import unsaid_by_group
from services.metrics.alerts.rules import GROUP_KINDS, HISTORY_DAYS, Finding, Unsaid, findings
from services.metrics.alerts.thresholds import thresholds_of
from services.metrics.replica.models import ChatGroup, Community
from services.metrics.rollups.daily import Scope, daily_stats

SOURCE = "/metrics"
COMMUNITY_ROW = ""


def evaluate_alerts(session: Session, now: datetime) -> int:
    """One pass over every community and open group; returns alerts opened plus resolved."""
    changed = 0
    for community in session.exec(select(Community)).all():
        thresholds = thresholds_of(session, community)
        today = local_day(now, community.timezone)
        first = today - timedelta(days=HISTORY_DAYS - 1)
        days = daily_stats(session, scope=Scope(community), first=first, last=today)
        unsaid = unsaid_by_group(
            session,
            community_id=community.community_id,
            since=now - timedelta(hours=thresholds.publication_failure_hours),
        )
        in_community = Unsaid(
            sum(u.failed for u in unsaid.values()), sum(u.expired for u in unsaid.values())
        )
        found = findings(days, thresholds, group=False, age_days=0, unsaid=in_community)
        changed += _apply(session, community, None, found, thresholds, now)
        groups = session.exec(
            select(ChatGroup).where(
                ChatGroup.community_id == community.community_id, ChatGroup.state != "dissolved"
            )
        ).all()
        for group in groups:
            days = daily_stats(
                session, scope=Scope(community, group.group_id), first=first, last=today
            )
            age = (as_utc(now) - as_utc(group.created_at)).days
            found = findings(
                days,
                thresholds,
                group=True,
                age_days=age,
                unsaid=unsaid.get(group.group_id, Unsaid()),
            )
            changed += _apply(session, community, group.group_id, found, thresholds, now)
    measure_open_alerts(session)
    return changed


def _apply(
    session: Session,
    community: Community,
    group_id: str | None,
    found: dict[str, Finding | None],
    thresholds: Thresholds,
    now: datetime,
) -> int:
    open_alerts = {
        alert.kind: alert
        for alert in session.exec(
            select(Alert)
            .where(
                Alert.community_id == community.community_id,
                Alert.group_id == (group_id or COMMUNITY_ROW),
                col(Alert.resolved_at).is_(None),
            )
            .with_for_update()
        ).all()
    }
    changed = 0
    for kind, finding in found.items():
        alert = open_alerts.get(kind)
        if finding is not None and alert is None:
            _open(session, community, group_id, kind, finding, now)
            changed += 1
        elif finding is not None and alert is not None:
            alert.clear_checks, alert.value, alert.reason = 0, finding.value, finding.reason
            session.add(alert)
        elif finding is None and alert is not None:
            alert.clear_checks += 1
            if alert.clear_checks >= thresholds.clear_checks:
                _resolve(session, community, alert, now)
                changed += 1
            session.add(alert)
    return changed


def _open(
    session: Session,
    community: Community,
    group_id: str | None,
    kind: str,
    finding: Finding,
    now: datetime,
) -> None:
    alert = Alert(
        alert_id=new_id("alr"),
        workspace_id=community.workspace_id,
        community_id=community.community_id,
        group_id=group_id or COMMUNITY_ROW,
        kind=kind,
        reason=finding.reason,
        value=finding.value,
        threshold=finding.threshold,
        opened_at=now,
    )
    session.add(alert)
    emit(
        session,
        AlertOpened(
            alert_id=alert.alert_id,
            community_id=community.community_id,
            group_id=group_id,
            kind=kind,
            reason=finding.reason,
            value=finding.value,
            threshold=finding.threshold,
            opened_at=now,
        ),
        source=SOURCE,
        workspace_id=community.workspace_id,
        community_id=community.community_id,
        subject=alert.alert_id,
    )


def _resolve(session: Session, community: Community, alert: Alert, now: datetime) -> None:
    alert.resolved_at = now
    emit(
        session,
        AlertResolved(
            alert_id=alert.alert_id,
            community_id=community.community_id,
            group_id=alert.group_id or None,
            kind=alert.kind,
            reason=f"over: {alert.reason}",
            opened_at=alert.opened_at,
            resolved_at=now,
        ),
        source=SOURCE,
        workspace_id=community.workspace_id,
        community_id=community.community_id,
        subject=alert.alert_id,
    )


def measure_open_alerts(session: Session) -> None:
    """The gauge of open alerts by kind and community purpose (bounded labels)."""
    rows = session.execute(
        sa.select(col(Alert.kind), col(Community.purpose), sa.func.count())
        .join(Community, col(Community.community_id) == col(Alert.community_id))
        .where(col(Alert.resolved_at).is_(None))
        .group_by(col(Alert.kind), col(Community.purpose))
    ).all()
    counts = Counter({(kind, purpose): n for kind, purpose, n in rows})
    # Every purpose a community has, so a count that fell to zero is set to zero.
    purposes = set(session.exec(select(Community.purpose).distinct()).all())
    for kind in GROUP_KINDS:
        for purpose in purposes:
            telemetry.ALERTS_OPEN.labels(kind, purpose).set(counts[(kind, purpose)])


def list_alerts(
    session: Session, *, community: Community, open_only: bool, paging: PageParams
) -> tuple[list[AlertPublic], str | None]:
    """The community's alerts, newest first."""
    statement = select(Alert).where(Alert.community_id == community.community_id)
    if open_only:
        statement = statement.where(col(Alert.resolved_at).is_(None))
    rows, cursor = paginate(
        session, statement, [desc(col(Alert.opened_at)), desc(col(Alert.alert_id))], paging
    )
    return [
        AlertPublic(
            alert_id=a.alert_id,
            community_id=a.community_id,
            group_id=a.group_id or None,
            kind=a.kind,
            reason=a.reason,
            value=a.value,
            threshold=a.threshold,
            opened_at=a.opened_at,
            resolved_at=a.resolved_at,
        )
        for a in rows
    ], cursor
