"""Events the content service publishes, and what bots report about content."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from services.common.contracts import topics
from services.common.contracts.base import EventData


class SubmissionAccepted(EventData):
    """A member's submission (投稿/UGC) passed review."""

    type = "io.qunyun.content.submission_accepted.v1"
    topic = topics.CONTENT

    submission_id: str
    member_id: str
    community_id: str
    accepted_at: datetime


class PublicationDue(EventData):
    """A post is to be said now, in one group (or to one member), for a schedule's occurrence
    or a playbook's step: everything the bot needs to post it. The gateway's outbound
    webhooks carry it to the group's bot, which answers with an inbound `publication_result`
    naming `publication_id`."""

    type = "io.qunyun.content.publication_due.v1"
    topic = topics.CONTENT

    publication_id: str
    schedule_id: str | None  # None for a playbook step
    playbook_run_id: str | None = None
    community_id: str
    occurrence_at: datetime
    target_kind: Literal["group", "member"]
    group_id: str | None
    member_id: str | None
    platform: str
    external_id: str  # the group's (or, one-to-one, the member's) id on its platform
    content_item_id: str
    content_revision: int
    content_kind: str
    title: str
    text: str
    # @-mention placeholders left in `text` for the bot to fill, e.g. `silent_members`.
    mentions: list[str]
    media: list[dict[str, str]]
    late: bool
    dispatched_at: datetime
    expires_at: datetime


class PublicationPublished(EventData):
    """The bot said it: `external_message_id` is the message in the group, so replies to it
    (`reply_to_external_id` in ingest) can be counted for the publication."""

    type = "io.qunyun.content.publication_published.v1"
    topic = topics.CONTENT

    publication_id: str
    schedule_id: str | None  # None for a playbook step
    playbook_run_id: str | None = None
    community_id: str
    content_item_id: str
    group_id: str | None
    member_id: str | None
    platform: str
    external_id: str
    external_message_id: str | None
    published_at: datetime


class PublicationPublishedV2(PublicationPublished):
    """The bot said it, with what kind of content it was and which value dimension it served
    (rules 10 and 13: response by kind and dimension, the mix of dimensions). v1's fields
    unchanged plus `content_kind` and `value_dimension`, as the item was at the revision
    published; v1 is no longer sent but stays readable for the events already on the topic."""

    type = "io.qunyun.content.publication_published.v2"
    topic = topics.CONTENT

    content_kind: str
    value_dimension: str | None


class PublicationFailed(EventData):
    """The bot could not say it (`error` is the bot's), so an operator can act."""

    type = "io.qunyun.content.publication_failed.v1"
    topic = topics.CONTENT

    publication_id: str
    schedule_id: str | None  # None for a playbook step
    playbook_run_id: str | None = None
    community_id: str
    group_id: str | None
    member_id: str | None
    error: str | None
    failed_at: datetime


class PublicationExpired(EventData):
    """No result came from the bot in time: the post may or may not have been said."""

    type = "io.qunyun.content.publication_expired.v1"
    topic = topics.CONTENT

    publication_id: str
    schedule_id: str | None  # None for a playbook step
    playbook_run_id: str | None = None
    community_id: str
    group_id: str | None
    member_id: str | None
    dispatched_at: datetime
    expired_at: datetime


class OccurrenceSkipped(EventData):
    """An occurrence was not published, and why: `missed` (further back than the grace
    period after downtime), `queue_empty`, `content_not_approved`, `no_targets`."""

    type = "io.qunyun.content.occurrence_skipped.v1"
    topic = topics.CONTENT

    schedule_id: str
    community_id: str
    occurrence_at: datetime
    reason: str
    skipped_at: datetime


class OccurrenceFailed(EventData):
    """An occurrence could not be dispatched: its segment's members could not be read from
    the members service in time (`reason` says what happened)."""

    type = "io.qunyun.content.occurrence_failed.v1"
    topic = topics.CONTENT

    schedule_id: str
    community_id: str
    occurrence_at: datetime
    reason: str
    failed_at: datetime


class SubmissionRejected(EventData):
    """A member's submission was turned down; the bot tells the author the reason."""

    type = "io.qunyun.content.submission_rejected.v1"
    topic = topics.CONTENT

    submission_id: str
    member_id: str | None
    community_id: str
    platform: str | None
    sender_external_id: str | None
    reason: str
    rejected_at: datetime


# ---- what bots report about content, through the gateway's signed inbound door ----------


class PublicationResultReported(EventData):
    """A bot's answer to `publication_due`: said (`published`) or not (`failed`)."""

    type = "io.qunyun.ingest.publication_result_reported.v1"
    topic = topics.INGEST_MESSAGES

    publication_id: str = Field(min_length=1, max_length=64)
    status: Literal["published", "failed"]
    external_message_id: str | None = Field(default=None, max_length=200)
    error: str | None = Field(default=None, max_length=2000)


class SubmissionReceived(EventData):
    """A member sent a submission (投稿) to a bot, in a group or one to one."""

    type = "io.qunyun.ingest.submission_received.v1"
    topic = topics.INGEST_MESSAGES

    platform: str = Field(min_length=1, max_length=20)
    group_external_id: str | None = Field(default=None, max_length=200)
    community_id: str | None = Field(default=None, max_length=64)
    sender_external_id: str = Field(min_length=1, max_length=200)
    sender_display_name: str | None = Field(default=None, max_length=120)
    title: str = Field(default="", max_length=200)
    text: str = Field(min_length=1, max_length=20_000)
    media_urls: list[str] = Field(default_factory=list, max_length=20)
    occurred_at: datetime


class MemberTagRequested(EventData):
    """A playbook run ended with "add a tag": members puts the tag on the member."""

    type = "io.qunyun.content.member_tag_requested.v1"
    topic = topics.CONTENT

    member_id: str
    community_id: str
    tag_name: str
    playbook_id: str
    run_id: str
    requested_at: datetime
