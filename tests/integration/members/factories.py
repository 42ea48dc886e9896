"""Test data made the way members makes it: through its own service functions, committed in one
transaction each (with their outbox events), and handed back as the API would show it (JSON).

Tests build what they are not about with these, and call the API for what they test:

    community = make.community(settings={"entry": {"policy": "approval"}})
    member = make.member(community["id"])
    group = make.group(community["id"], capacity=2)
"""

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session

from services.common.clock import now
from services.members.community import joining, members, service
from services.members.community.models import CommunityCreate, CommunityPublic, MemberCreate
from services.members.groups import capacity
from services.members.groups import service as groups
from services.members.groups.models import GroupCreate
from services.members.onboarding import rules
from services.members.onboarding.models import RulesPublic
from services.members.tags import service as tags
from services.members.tags.models import TagIn, TagPublic

T = TypeVar("T")


class Factories:
    """Communities, members, groups, tags and rules of one workspace, made through members'
    service functions."""

    def __init__(self, engine: Engine, workspace: str):
        self.engine = engine
        self.workspace = workspace

    def _commit(self, make: Callable[[Session], BaseModel]) -> dict[str, Any]:
        with Session(self.engine) as session:
            shown = make(session)
            session.commit()
            return shown.model_dump(mode="json")

    def community(self, **overrides: Any) -> dict[str, Any]:
        """A community (interest, Asia/Shanghai unless overridden), with its purpose's defaults."""
        fields = {"name": "测试群", "purpose": "interest", "timezone": "Asia/Shanghai"} | overrides
        community_in = CommunityCreate.model_validate(fields)
        return self._commit(
            lambda session: CommunityPublic.model_validate(
                service.create_community(
                    session=session, workspace_id=self.workspace, community_in=community_in
                ),
                from_attributes=True,
            )
        )

    def member(
        self,
        community_id: str,
        external_id: str | None = None,
        platform: str = "wechat",
        **fields: Any,
    ) -> dict[str, Any]:
        """Someone through the community's entry threshold, as `POST .../members` admits them
        (or who they already are, if one of their identities is known)."""
        body = {
            "display_name": fields.pop("display_name", "成员"),
            "identities": [{"platform": platform, "external_id": external_id or uuid.uuid4().hex}],
        }
        member_in = MemberCreate.model_validate(body | fields)

        def join(session: Session) -> BaseModel:
            member, _ = joining.join_member(
                session=session,
                workspace_id=self.workspace,
                community_id=community_id,
                member_in=member_in,
            )
            return members.member_public(session=session, member=member)

        return self._commit(join)

    def group(self, community_id: str, **overrides: Any) -> dict[str, Any]:
        """A chat group at the end of the community's filling order."""
        fields = {
            "platform": "wechat",
            "external_id": f"g{uuid.uuid4().hex[:12]}@chatroom",
            "name": "群",
        } | overrides
        group_in = GroupCreate.model_validate(fields)

        def create(session: Session) -> BaseModel:
            community = self._community(session, community_id)
            group = groups.create_group(
                session=session, community=community, group_in=group_in, at=now()
            )
            return capacity.group_public(session, groups=[group], at=now())[0]

        return self._commit(create)

    def tag(self, community_id: str, name: str, category: str = "custom") -> dict[str, Any]:
        """A tag of the community."""
        tag_in = TagIn(name=name, category=category)  # type: ignore[arg-type]

        def create(session: Session) -> BaseModel:
            community = self._community(session, community_id)
            tag = tags.create_tag(session=session, community=community, tag_in=tag_in)
            return TagPublic.model_validate(tag, from_attributes=True)

        return self._commit(create)

    def rules(self, community_id: str, text: str = "友善交流，不发广告。") -> dict[str, Any]:
        """A new version of the community's rules, in force from now."""

        def publish(session: Session) -> BaseModel:
            community = self._community(session, community_id)
            version = rules.publish(session=session, community=community, text=text, actor="test")
            return RulesPublic.model_validate(version, from_attributes=True)

        return self._commit(publish)

    def _community(self, session: Session, community_id: str) -> Any:
        return service.get_community(
            session=session, workspace_id=self.workspace, community_id=community_id
        )
