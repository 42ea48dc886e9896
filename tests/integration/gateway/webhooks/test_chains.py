"""A queue's messages are claimed several at a time and sent one after another (a chain);
a failure in the middle holds back the rest, which go after it, in order, exactly once."""

import pytest
from fastapi.testclient import TestClient

from tests.integration.gateway.webhooks.conftest import Events, wait_for
from tests.integration.gateway.webhooks.factories import community, create_endpoint, status_changed
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration


def test_a_failure_inside_a_claimed_chain_holds_back_the_rest_in_order(
    api: TestClient, receiver: Receiver, events: Events
) -> None:
    path = "/chain"
    # The third delivery fails twice; the first two succeed.
    receiver.script[path] = [(200, {}), (200, {}), (500, {}), (503, {})]
    cid = community()
    create_endpoint(api, receiver.url(path), community_ids=[cid])
    sent = events.publish_many([status_changed() for _ in range(8)], community_id=cid)
    wanted = [e.id for e in sent]

    wait_for(lambda: set(wanted) <= {d.webhook_id for d in receiver.at(path)}, what="all eight")
    got = [d.webhook_id for d in receiver.at(path)]
    assert got == [*wanted[:3], wanted[2], wanted[2], *wanted[3:]]
