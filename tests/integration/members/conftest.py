"""The members service in-process, on its own database copied from the migrated template and
its own Kafka topics (a unique topic prefix), with the real broker: its outbox relay and
consumer run as in production. `MembersApi` speaks as the gateway; `outbox` (from the shared
conftest) reads what members announced."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from services.common.runtime import ServiceSpec
from services.common.settings import ServiceSettings
from services.members.app import SPEC
from tests.integration.conftest import WORKSPACE, ServiceApi, eventually, running_service
from tests.integration.members.factories import Factories

__all__ = ["MembersApi", "eventually"]


class MembersApi(ServiceApi):
    """The members service as the gateway sees it; `make` builds test data through its service
    functions, and `community()` / `join()` are the two most tests start with."""

    def __init__(self, client: TestClient, settings: ServiceSettings):
        super().__init__(client, settings)
        self.make = Factories(self.engine, WORKSPACE)

    def community(self, **overrides: Any) -> dict[str, Any]:
        return self.make.community(**overrides)

    def join(
        self,
        community_id: str,
        external_id: str | None = None,
        platform: str = "wechat",
        **fields: Any,
    ) -> dict[str, Any]:
        return self.make.member(community_id, external_id, platform, **fields)


@pytest.fixture
def members_database_url(new_database: Callable[[ServiceSpec], str]) -> str:
    return new_database(SPEC)


@pytest.fixture
def members(members_database_url: str, kafka_bootstrap: str) -> Iterator[MembersApi]:
    with running_service(SPEC, members_database_url, kafka_bootstrap) as (client, settings):
        api = MembersApi(client, settings)
        yield api
        api.close()


@pytest.fixture
def make(members: MembersApi) -> Factories:
    """Test data through members' service functions (see factories.py)."""
    return members.make


@pytest.fixture
def service_engine(members: MembersApi) -> Engine:
    """The database whose outbox the shared `outbox` fixture reads."""
    return members.engine
