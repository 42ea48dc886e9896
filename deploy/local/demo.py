"""The demo workspace: a community with a few members, a group and its rules, created through
the public API.

Idempotency keys and identity de-duplication make seeding safe to repeat on every start.
"""

import httpx

DEMO_MEMBERS = [
    ("林晓", "wx_linxiao"),
    ("陈思远", "wx_chensiyuan"),
    ("王芳", "wx_wangfang"),
    ("赵磊", "wx_zhaolei"),
    ("Alice Wu", "wx_alicewu"),
]


def seed_demo(gateway_url: str, api_key: str) -> str:
    """Create (or find again) the demo community and its members; returns the community id."""
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=10) as client:
        response = client.post(
            "/v1/communities",
            json={
                "name": "群运产品体验群",
                "purpose": "brand",
                "timezone": "Asia/Shanghai",
                "description": "Demo community seeded by `make run`.",
            },
            headers={"Idempotency-Key": "demo-seed-community"},
        )
        response.raise_for_status()
        community_id: str = response.json()["id"]
        for name, wechat_id in DEMO_MEMBERS:
            client.post(
                f"/v1/communities/{community_id}/members",
                json={
                    "display_name": name,
                    "identities": [{"platform": "wechat", "external_id": wechat_id}],
                },
            ).raise_for_status()
        client.post(
            f"/v1/communities/{community_id}/groups",
            json={"platform": "wechat", "external_id": "demo_group_1", "name": "群运体验1群"},
            headers={"Idempotency-Key": "demo-seed-group-1"},
        ).raise_for_status()
        client.post(
            f"/v1/communities/{community_id}/rules",
            json={
                "text": "1. 友善交流，不发广告。2. 每周五晚 KTV 赛，周三读书会。"
                "3. 投稿请私信管理员。"
            },
            headers={"Idempotency-Key": "demo-seed-rules-1"},
        ).raise_for_status()
    return community_id
