"""Events and endpoints for the webhook tests."""

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from services.common.contracts import MemberStatusChanged, PlatformIdentity


def status_changed(to_status: str = "banned", member_id: str | None = None) -> MemberStatusChanged:
    return MemberStatusChanged(
        member_id=member_id or f"mbr_{uuid.uuid4().hex[:10]}",
        community_id="cmt_x",
        from_status="active",
        to_status=to_status,
        actor="operator",
        reason="spam",
        until=None,
        identities=[PlatformIdentity(platform="wechat", external_id="wx_1")],
        changed_at=datetime.now(UTC),
    )


def create_endpoint(api: TestClient, url: str, **fields: Any) -> dict[str, Any]:
    answer = api.post("/v1/webhooks/endpoints", json={"url": url, **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def community() -> str:
    return f"cmt_{uuid.uuid4().hex[:10]}"
