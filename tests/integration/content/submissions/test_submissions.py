"""Submissions (UGC, rule 16): the review queue, accepting into the library with the author
credited (submission_accepted for members' points), rejecting with a reason the bot tells."""

from datetime import UTC, datetime

from services.common.contracts import MemberJoined, PlatformIdentity, SubmissionReceived
from services.content.replica.handlers import on_member_joined
from tests.integration.content.conftest import (
    WORKSPACE,
    ContentApi,
    eventually,
)


def test_accepting_a_submission_credits_its_author(content: ContentApi) -> None:
    community_id = content.community()
    sent = content.post(
        f"/v1/communities/{community_id}/submissions",
        json={"member_id": "mem_1", "title": "我的读书笔记", "body": "第一章……"},
    )
    assert sent.status_code == 201, sent.text
    submission = sent.json()
    queue = content.get(f"/v1/communities/{community_id}/submissions").json()["data"]
    assert [s["id"] for s in queue] == [submission["id"]]

    accepted = content.post(
        f"/v1/submissions/{submission['id']}/accept", json={"value_dimension": "cases"}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    item = content.get(f"/v1/contents/{accepted.json()['content_item_id']}").json()
    assert (item["kind"], item["status"], item["author_member_id"], item["submission_id"]) == (
        "ugc",
        "approved",
        "mem_1",
        submission["id"],
    )
    assert content.post(f"/v1/submissions/{submission['id']}/accept", json={}).status_code == 409
    assert content.get(f"/v1/communities/{community_id}/submissions").json()["data"] == []
    (event,) = content.events("io.qunyun.content.submission_accepted.v1", expect=1)
    assert event.data["member_id"] == "mem_1" and event.data["submission_id"] == submission["id"]


def test_rejecting_needs_a_reason_the_bot_can_tell(content: ContentApi) -> None:
    community_id = content.community()
    submission = content.post(
        f"/v1/communities/{community_id}/submissions",
        json={"member_id": "mem_2", "body": "广告"},
    ).json()
    for blank in ({"reason": " "}, {}, {"reason": "\x1c"}):
        no_reason = content.post(f"/v1/submissions/{submission['id']}/reject", json=blank)
        assert no_reason.status_code == 422
        assert [e["field"] for e in no_reason.json()["errors"]] == ["reason"]
    assert content.get(f"/v1/submissions/{submission['id']}").json()["status"] == "pending"
    rejected = content.post(
        f"/v1/submissions/{submission['id']}/reject", json={"reason": "与社群主题无关"}
    )
    assert rejected.json()["status"] == "rejected"
    (event,) = content.events("io.qunyun.content.submission_rejected.v1", expect=1)
    assert (event.data["member_id"], event.data["reason"]) == ("mem_2", "与社群主题无关")


def test_a_bots_submission_finds_its_community_and_author(content: ContentApi) -> None:
    community_id = content.community()
    group_id = content.group(community_id)
    content.apply(
        on_member_joined,
        MemberJoined(
            member_id="mem_7",
            community_id=community_id,
            display_name="小林",
            identities=[PlatformIdentity(platform="wechat", external_id="wx-7")],
            joined_at=datetime.now(UTC),
        ),
        workspace=WORKSPACE,
        community_id=community_id,
    )
    content.publish(
        SubmissionReceived(
            platform="wechat",
            group_external_id=f"ext-{group_id}",
            sender_external_id="wx-7",
            sender_display_name="小林",
            text="我们小区的读书角",
            media_urls=["https://example.com/p.jpg"],
            occurred_at=datetime.now(UTC),
        ),
        community_id=None,
    )

    def queue() -> list[dict]:  # type: ignore[type-arg]
        return content.get(f"/v1/communities/{community_id}/submissions").json()["data"]  # type: ignore[no-any-return]

    assert eventually(queue)
    (submission,) = queue()
    assert (submission["member_id"], submission["source"], submission["platform"]) == (
        "mem_7",
        "bot",
        "wechat",
    )
