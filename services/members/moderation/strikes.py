"""Moderation for a batch of chat messages (`activity.folding`): what `record_violation`
does message by message, with a constant number of statements however many violations.

What the ladder reads is loaded at once before the batch is judged (the violators' counted
cases still inside the expiry, the cases the batch's messages have already, the violators'
identities); each violation is then judged in message order against that memory, which
gains each new case as it is opened, so the ladder climbs exactly as one message after
another would climb it. The cases and status changes are written at once at the end.

A case for one of the batch's messages that another process opens meanwhile makes the
insert fail; the consumer then splits the batch, and the per-event path judges it.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlmodel import Session

from services.common.clock import now
from services.common.contracts import ChatMessagePosted, EventData, PlatformIdentity
from services.common.contracts.moderation import ViolationRecorded
from services.common.ids import new_id
from services.members.community.members import status_change
from services.members.community.models import MemberRecord, MemberTransition, Move
from services.members.community.settings import ModerationSettings
from services.members.community.states import check_move
from services.members.groups.models import Group
from services.members.moderation.detection import (
    Match,
    active_strikes,
    effective_action,
    excerpt,
    ladder_step,
)
from services.members.moderation.service import ACTOR
from services.members.vocabulary import MemberStatus


@dataclass
class Strikes:
    """The batch's memory of strikes, and the cases and transitions it has decided."""

    times: dict[str, list[datetime]] = field(default_factory=lambda: defaultdict(list))
    taken: set[tuple[str, str]] = field(default_factory=set)  # (group, message) with a case
    identities: dict[str, list[PlatformIdentity]] = field(default_factory=lambda: defaultdict(list))
    cases: list[dict[str, Any]] = field(default_factory=list)
    transitions: list[MemberTransition] = field(default_factory=list)

    @classmethod
    def load(
        cls,
        session: Session,
        violations: Sequence[tuple[MemberRecord, Group, str]],
        since: datetime,
    ) -> "Strikes":
        """What the ladder needs for `violations` (member, group, message external id), in
        three statements: counted cases since `since` (the earliest any expiry reaches),
        the cases the messages have already, and the members' identities, oldest first."""
        strikes = cls()
        if not violations:
            return strikes
        ids = sorted({member.id for member, _, _ in violations})
        for member_id, occurred_at in session.execute(_COUNTED, {"ids": ids, "since": since}):
            strikes.times[member_id].append(occurred_at)
        messages = [{"g": group.id, "x": external_id} for _, group, external_id in violations]
        strikes.taken = {
            (g, x) for g, x in session.execute(_TAKEN, {"rows": orjson.dumps(messages).decode()})
        }
        for member_id, platform, external_id in session.execute(_IDENTITIES, {"ids": ids}):
            strikes.identities[member_id].append(
                PlatformIdentity(platform=platform, external_id=external_id)
            )
        return strikes

    def judge(
        self,
        *,
        policy: ModerationSettings,
        group: Group,
        member: MemberRecord,
        data: ChatMessagePosted,
        found: list[Match],
        event_id: str,
        at: datetime,
    ) -> list[tuple[EventData, MemberRecord]]:
        """Open the message's case and climb the ladder, in memory, as `record_violation`
        does; the events to announce, in order (none if the message has its case already)."""
        key = (group.id, data.message_external_id)
        if key in self.taken:
            return []
        self.taken.add(key)
        prior = active_strikes(self.times[member.id], at=at, expiry_days=policy.strike_expiry_days)
        index, step = ladder_step(policy.ladder, prior)
        action = effective_action(step.action, member.status)
        case_id, created_at = new_id("case"), now()
        kinds: list[str] = list(dict.fromkeys(m.kind for m in found))
        announced: list[tuple[EventData, MemberRecord]] = []
        move, until = None, None
        if action == "mute":
            assert step.mute_hours is not None  # the settings require hours on every mute step
            until = now() + timedelta(hours=step.mute_hours)
            if member.muted_until is not None and member.muted_until > until:
                until = member.muted_until  # a milder step never shortens a running mute
            move = Move.mute
        elif action == "remove" and member.status != MemberStatus.removed:
            move = Move.remove
        elif action == "ban" and member.status != MemberStatus.banned:
            move = Move.ban
        if move is not None:
            to_status = check_move(member, move, until)
            transition, changed = status_change(
                member,
                to_status,
                ACTOR,
                f"moderation case {case_id}: {', '.join(kinds)}",
                until,
                self.identities[member.id],
            )
            self.transitions.append(transition)
            announced.append((changed, member))
        self.times[member.id].append(at)
        self.cases.append(
            {
                "i": case_id,
                "w": member.workspace_id,
                "c": member.community_id,
                "m": member.id,
                "g": group.id,
                "x": data.message_external_id,
                "e": event_id,
                "t": excerpt(data.text, found, policy.excerpt_chars),
                "j": [{"kind": m.kind, "match": m.match} for m in found],
                "s": prior,
                "l": index,
                "a": action,
                "u": until,
                "o": at,
                "r": created_at,
            }
        )
        announced.append(
            (
                ViolationRecorded(
                    case_id=case_id,
                    member_id=member.id,
                    community_id=member.community_id,
                    group_id=group.id,
                    platform=group.platform,
                    group_external_id=group.external_id,
                    message_external_id=data.message_external_id,
                    identities=self.identities[member.id],
                    kinds=kinds,
                    action=action,
                    mute_until=until,
                    active_strikes=prior + 1,
                    occurred_at=at,
                    recorded_at=created_at,
                ),
                member,
            )
        )
        return announced

    def write(self, session: Session) -> None:
        """The cases in one statement; the transitions go with the session's next flush."""
        if self.cases:
            session.execute(_OPEN, {"rows": orjson.dumps(self.cases).decode()})
        session.add_all(self.transitions)


# Fixed statement texts, the batch's rows as one parameter: nothing compiled per batch.
_COUNTED = sa.text(
    "SELECT member_id, occurred_at FROM moderation_case "
    "WHERE member_id = ANY(CAST(:ids AS text[])) AND status = 'counted' "
    "AND occurred_at > :since"
)
_TAKEN = sa.text(
    "SELECT group_id, message_external_id FROM moderation_case "
    "WHERE (group_id, message_external_id) IN ("
    "SELECT g, x FROM json_to_recordset(CAST(:rows AS json)) AS r(g text, x text))"
)
_IDENTITIES = sa.text(
    "SELECT member_id, platform, external_id FROM member_identity "
    "WHERE member_id = ANY(CAST(:ids AS text[])) ORDER BY id"
)
# No ON CONFLICT: a case opened meanwhile by another process fails the batch (see above).
_OPEN = sa.text(
    "INSERT INTO moderation_case (id, workspace_id, community_id, member_id, group_id, "
    "message_external_id, event_id, excerpt, matches, strikes_before, ladder_step, action, "
    "mute_until, status, occurred_at, created_at) "
    "SELECT i, w, c, m, g, x, e, t, j, s, l, a, u, 'counted', o, r "
    "FROM json_to_recordset(CAST(:rows AS json)) AS r(i text, w text, c text, m text, g text, "
    "x text, e text, t text, j jsonb, s int, l int, a text, u timestamptz, o timestamptz, "
    "r timestamptz)"
)
