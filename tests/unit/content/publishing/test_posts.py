"""Rendering a post: what the platform knows is filled, mention placeholders are left for the
bot and named."""

from datetime import UTC, datetime

from services.content.publishing.posts import render
from services.content.replica.models import Community, Group


def test_known_placeholders_are_filled_and_mentions_left_for_the_bot() -> None:
    community = Community(
        id="cmt_1",
        workspace_id="ws",
        name="读书会",
        purpose="interest",
        timezone="Asia/Shanghai",
        source_updated_at=datetime.now(UTC),
    )
    group = Group(
        id="grp_1",
        workspace_id="ws",
        community_id="cmt_1",
        platform="wechat",
        external_id="wx",
        name="一群",
        kind="permanent",
        state="filling",
        source_updated_at=datetime.now(UTC),
    )
    text, mentions = render(
        "{{ community_name }}·{{group_name}}：{{silent_members}} 今晚讨论 {{new_members}} {{x}}",
        community=community,
        group=group,
    )
    assert text == "读书会·一群：{{silent_members}} 今晚讨论 {{new_members}} {{x}}"
    assert mentions == ["new_members", "silent_members", "x"]
    one_to_one, none = render("你好 {{group_name}}", community=community, group=None)
    assert (one_to_one, none) == ("你好 ", [])
