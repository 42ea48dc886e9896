"""The members service: who is in which community and group, how they got in, how engaged
they are, how they are rewarded, and what happens to those who break the rules or fall silent.

Everything the service runs is named here, once and in order: its routers, the handlers of
each event type it consumes, its periodic jobs and the steps of a merge. Nothing registers
itself by being imported.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlmodel import Session

from services.common.batch_folds import BatchHandler
from services.common.cloudevents import CloudEvent
from services.common.consumer import Handler
from services.common.contracts import (
    AttendanceRecorded,
    ChallengeTierReached,
    ChatMessagePosted,
    CheckInRecorded,
    FeedbackGiven,
    GroupMemberJoined,
    GroupMemberLeft,
    MemberJoined,
    MemberOnboarded,
    MemberStatusChanged,
    MemberTagRequested,
    SubmissionAccepted,
    TemporaryGroupRequested,
    topics,
)
from services.common.periodic import PeriodicJob
from services.common.runtime import ServiceSpec, create_service_app
from services.members.activity import folding
from services.members.activity import handlers as activity_handlers
from services.members.activity import service as activity
from services.members.community import states
from services.members.community import views as community_views
from services.members.community.merge import MergeStep
from services.members.groups import capacity as group_capacity
from services.members.groups import handlers as group_handlers
from services.members.groups import roster as group_roster
from services.members.groups import service as groups
from services.members.groups import views as group_views
from services.members.incentives import badges
from services.members.incentives import handlers as incentive_handlers
from services.members.incentives import service as incentives
from services.members.incentives import views as incentive_views
from services.members.lifecycle import handlers as lifecycle_handlers
from services.members.lifecycle import purchases
from services.members.lifecycle import service as lifecycle
from services.members.lifecycle import views as lifecycle_views
from services.members.moderation import handlers as moderation_handlers
from services.members.moderation import service as moderation
from services.members.moderation import views as moderation_views
from services.members.onboarding import rules
from services.members.onboarding import service as onboarding
from services.members.onboarding import views as onboarding_views
from services.members.outreach import service as outreach
from services.members.outreach import views as outreach_views
from services.members.pruning import service as pruning
from services.members.pruning import views as pruning_views
from services.members.referrals import campaigns
from services.members.referrals import handlers as referral_handlers
from services.members.referrals import service as referrals
from services.members.referrals import views as referral_views
from services.members.segments import views as segment_views
from services.members.tags import handlers as tag_handlers
from services.members.tags import service as tags
from services.members.tags import views as tag_views

ROUTERS = (
    community_views.communities,
    community_views.router,
    group_views.router,
    lifecycle_views.router,
    moderation_views.router,
    incentive_views.router,
    referral_views.router,
    tag_views.router,
    segment_views.router,
    onboarding_views.router,
    pruning_views.router,
    outreach_views.router,
)

# Where several handle one event type they run in this order, in one transaction. For a bot's
# message: activity first (it counts the message and resolves the sender), then the lifecycle
# (which reads the count), then moderation (which may mute or remove the sender).
HANDLERS: dict[str, Sequence[Handler]] = {
    ChatMessagePosted.type: (
        activity_handlers.on_message_posted,
        lifecycle_handlers.on_message_posted,
        moderation_handlers.on_message_posted,
    ),
    GroupMemberJoined.type: (group_handlers.on_member_joined,),
    GroupMemberLeft.type: (group_handlers.on_member_left,),
    MemberStatusChanged.type: (
        group_handlers.on_member_gone,
        referral_handlers.on_member_status_changed,
    ),
    MemberOnboarded.type: (referral_handlers.on_member_onboarded,),
    FeedbackGiven.type: (lifecycle_handlers.on_feedback_given,),
    CheckInRecorded.type: (incentive_handlers.on_check_in,),
    AttendanceRecorded.type: (incentive_handlers.on_attendance,),
    ChallengeTierReached.type: (incentive_handlers.on_challenge_tier_reached,),
    SubmissionAccepted.type: (incentive_handlers.on_submission_accepted,),
    MemberJoined.type: (referral_handlers.on_member_joined,),
    TemporaryGroupRequested.type: (group_handlers.on_temporary_group_requested,),
    MemberTagRequested.type: (tag_handlers.on_member_tag_requested,),
}

# Event types folded a batch at a time: the consumer runs them in one transaction per polled
# batch. The fold gives, message by message, what the chain above gives (which still serves a
# batch the consumer has split down to one event), with a constant number of statements.
BATCH_HANDLERS: dict[str, BatchHandler] = {
    ChatMessagePosted.type: folding.fold_messages,
}

JOBS = (
    PeriodicJob("expire-mutes", 30, states.expire_mutes),
    PeriodicJob("forget-old-messages", 3600, activity.forget_old_messages),
    PeriodicJob("dissolve-temporary-groups", 60, groups.dissolve_due),
    PeriodicJob("expire-group-assignments", 60, group_capacity.expire_assignments),
    PeriodicJob("badge-rules", 300, badges.sweep),
    PeriodicJob("referral-decisions", 60, referrals.decide_due),
    PeriodicJob("referral-campaign-rewards", 600, campaigns.sweep),
    PeriodicJob("scheduled-pruning", 600, pruning.scheduled_pruning),
)

# What a merge moves from the merged-away member to the survivor, in this order.
MERGE_STEPS: tuple[MergeStep, ...] = (
    badges.move_awards,
    incentives.move_ledger,
    group_roster.move_memberships_and_places,
    activity.merge_activity,
    purchases.merge_purchases,
    lifecycle.merge_stage,
    moderation.merge_cases,
    rules.move_acknowledgements,
    onboarding.merge_onboarding,
    outreach.merge_tasks,
    tags.move_tags,
    campaigns.move_rewards,
    referrals.move_referrals,
)


def in_order(handlers: Sequence[Handler]) -> Handler:
    """One handler running `handlers` one after the other in the event's transaction."""
    if len(handlers) == 1:
        return handlers[0]

    def handle(session: Session, event: CloudEvent) -> None:
        for handler in handlers:
            handler(session, event)

    return handle


@asynccontextmanager
async def merge_steps(app: FastAPI) -> AsyncIterator[None]:
    """Give the merge route the steps above (read by `deps.MergeStepsDep`)."""
    app.state.merge_steps = MERGE_STEPS
    yield


SPEC = ServiceSpec(
    name="members",
    version="0.2.0",
    routers=ROUTERS,
    migrations_dir=Path(__file__).parent / "migrations",
    produces=[topics.MEMBERS],
    handlers={event_type: in_order(chain) for event_type, chain in HANDLERS.items()},
    batch_handlers=BATCH_HANDLERS,
    periodic=JOBS,
    lifespan_hooks=[merge_steps],
    description="Communities, groups, members, entry, onboarding, segments, lifecycle, referrals, "
    "incentives, moderation and inactivity pruning.",
)


def create_app() -> FastAPI:
    return create_service_app(SPEC)
