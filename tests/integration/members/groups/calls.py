"""The group calls the groups tests share: registering a group and asking for a place go
through the API, since that is what these tests are about."""

import uuid
from typing import Any

from services.common.periodic import PeriodicJob
from services.members.app import JOBS
from tests.integration.members.conftest import MembersApi


def register_group(members: MembersApi, community_id: str, **body: Any) -> dict[str, Any]:
    body = {"platform": "wechat", "external_id": uuid.uuid4().hex, "name": "群"} | body
    response = members.post(f"/v1/communities/{community_id}/groups", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def assign(members: MembersApi, community_id: str, member_id: str, **body: Any) -> Any:
    return members.post(
        f"/v1/communities/{community_id}/group-assignments", json={"member_id": member_id} | body
    )


def named_job(name: str) -> PeriodicJob:
    return next(j for j in JOBS if j.name == name)
