"""Content items and their review: draft → in_review → approved → archived, revisions kept."""

from tests.integration.content.conftest import ContentApi


def test_review_workflow_and_revisions(content: ContentApi) -> None:
    community_id = content.community()
    created = content.post(
        f"/v1/communities/{community_id}/contents",
        json={
            "kind": "topic",
            "value_dimension": "information",
            "title": "本周话题",
            "body": "聊聊 {{silent_members}}",
            "tags": ["weekly"],
            "media": [{"url": "https://example.com/a.png"}],
        },
    )
    assert created.status_code == 201, created.text
    item = created.json()
    assert (item["status"], item["revision"], item["author"]) == ("draft", 1, "api_key:key_test")
    item_id = item["id"]

    # Reviewing a draft is refused: it has not been sent to review.
    refused = content.post(f"/v1/contents/{item_id}/review", json={"decision": "approve"})
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/content-state-conflict")

    assert content.post(f"/v1/contents/{item_id}/submit").json()["status"] == "in_review"
    sent_back = content.post(
        f"/v1/contents/{item_id}/review", json={"decision": "reject", "comment": "太长"}
    ).json()
    assert (sent_back["status"], sent_back["review_comment"]) == ("draft", "太长")
    content.post(f"/v1/contents/{item_id}/submit")
    approved = content.post(f"/v1/contents/{item_id}/review", json={"decision": "approve"}).json()
    assert approved["status"] == "approved" and approved["reviewer"] == "api_key:key_test"

    # Editing approved content keeps what was approved and sends the new text to review.
    edited = content.patch(f"/v1/contents/{item_id}", json={"title": "本周话题（新）"}).json()
    assert (edited["status"], edited["revision"], edited["reviewer"]) == ("in_review", 2, None)
    revisions = content.get(f"/v1/contents/{item_id}/revisions").json()["data"]
    assert [(r["revision"], r["status"], r["title"]) for r in revisions] == [
        (1, "approved", "本周话题")
    ]

    listed = content.get(f"/v1/communities/{community_id}/contents?status=in_review&tag=weekly")
    assert [i["id"] for i in listed.json()["data"]] == [item_id]
    assert (
        content.get(f"/v1/communities/{community_id}/contents?status=approved").json()["data"] == []
    )

    assert content.post(f"/v1/contents/{item_id}/archive").json()["status"] == "archived"
    assert content.patch(f"/v1/contents/{item_id}", json={"title": "x"}).status_code == 409


def test_content_is_scoped_to_the_callers_workspace(content: ContentApi) -> None:
    community_id = content.community()
    item = content.approved_item(community_id)
    assert content.get(f"/v1/contents/{item['id']}", workspace="ws_other").status_code == 404
    other = content.get(f"/v1/communities/{community_id}/contents", workspace="ws_other")
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"


def test_bad_content_is_a_problem_naming_the_field(content: ContentApi) -> None:
    community_id = content.community()
    response = content.post(
        f"/v1/communities/{community_id}/contents",
        json={"kind": "poem", "title": "", "body": "x"},
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"kind", "title"} <= fields
    listed = content.get(f"/v1/communities/{community_id}/contents").json()
    assert listed["data"] == []


def test_a_retried_create_creates_once(content: ContentApi) -> None:
    community_id = content.community()
    body = {"kind": "article", "title": "文章", "body": "正文"}
    first = content.post(
        f"/v1/communities/{community_id}/contents", json=body, headers={"Idempotency-Key": "k1"}
    )
    again = content.post(
        f"/v1/communities/{community_id}/contents", json=body, headers={"Idempotency-Key": "k1"}
    )
    assert first.json()["id"] == again.json()["id"]
    assert len(content.get(f"/v1/communities/{community_id}/contents").json()["data"]) == 1


def test_media_edited_without_a_type_reads_back_with_the_default_one(content: ContentApi) -> None:
    community_id = content.community()
    item = content.post(
        f"/v1/communities/{community_id}/contents",
        json={"kind": "topic", "title": "t", "body": "b"},
    ).json()
    edited = content.patch(f"/v1/contents/{item['id']}", json={"media": [{"url": "https://0.com"}]})
    assert edited.status_code == 200, edited.text
    read = content.get(f"/v1/contents/{item['id']}")
    assert read.status_code == 200 and read.json()["media"] == [
        {"url": "https://0.com/", "type": "image"}
    ]
    too_long = {"url": "https://example.com/" + "a" * 1990}
    refused = content.patch(f"/v1/contents/{item['id']}", json={"media": [too_long]})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["media.0.url"]
