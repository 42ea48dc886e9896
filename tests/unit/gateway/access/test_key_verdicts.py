"""The gateway keeps authenticating known keys through a database blip, not unknown ones."""

import time

import pytest
import sqlalchemy as sa

from gateway.access.callers import Caller
from gateway.access.service import key_hash
from gateway.access.verdicts import KeyVerdicts

ALICE = Caller(key_id="key_1", workspace_id="ws_1", scopes=frozenset({"members:read"}))


class _Keys:
    def __init__(self) -> None:
        self.lookups = 0
        self.down = False
        self.known: dict[str, Caller] = {"qy_alice": ALICE}

    def __call__(self, key: str) -> Caller | None:
        self.lookups += 1
        if self.down:
            raise sa.exc.OperationalError("SELECT", {}, Exception("connection refused"))
        return self.known.get(key)


def test_a_fresh_verdict_is_not_asked_again() -> None:
    keys, verdicts = _Keys(), KeyVerdicts(fresh_seconds=60, grace_seconds=300)
    assert verdicts.caller("qy_alice", keys) == ALICE
    assert verdicts.caller("qy_alice", keys) == ALICE
    assert keys.lookups == 1


def test_a_known_key_works_through_an_outage_within_the_grace() -> None:
    keys, verdicts = _Keys(), KeyVerdicts(fresh_seconds=0, grace_seconds=300)
    assert verdicts.caller("qy_alice", keys) == ALICE
    keys.down = True
    assert verdicts.caller("qy_alice", keys) == ALICE


def test_past_the_grace_or_for_an_unknown_key_the_outage_shows() -> None:
    keys, verdicts = _Keys(), KeyVerdicts(fresh_seconds=0, grace_seconds=0.05)
    verdicts.caller("qy_alice", keys)
    keys.down = True
    with pytest.raises(sa.exc.OperationalError):
        verdicts.caller("qy_stranger", keys)
    time.sleep(0.06)
    with pytest.raises(sa.exc.OperationalError):
        verdicts.caller("qy_alice", keys)


def test_a_revoked_key_stops_working_once_its_verdict_is_stale() -> None:
    keys, verdicts = _Keys(), KeyVerdicts(fresh_seconds=0.05, grace_seconds=300)
    verdicts.caller("qy_alice", keys)
    del keys.known["qy_alice"]
    time.sleep(0.06)
    assert verdicts.caller("qy_alice", keys) is None
    keys.down = True  # and it is forgotten: an outage does not bring it back
    with pytest.raises(sa.exc.OperationalError):
        verdicts.caller("qy_alice", keys)


def test_a_bug_in_the_lookup_is_not_covered_by_the_cache() -> None:
    verdicts = KeyVerdicts(fresh_seconds=0, grace_seconds=300)
    verdicts.caller("qy_alice", _Keys())

    def broken(key: str) -> Caller | None:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        verdicts.caller("qy_alice", broken)


def test_a_key_forgotten_here_is_asked_again_at_once() -> None:
    keys, verdicts = _Keys(), KeyVerdicts(fresh_seconds=60, grace_seconds=300)
    verdicts.caller("qy_alice", keys)
    del keys.known["qy_alice"]  # revoked through this replica's API
    verdicts.forget(key_hash("qy_alice"))
    assert verdicts.caller("qy_alice", keys) is None
    assert keys.lookups == 2
