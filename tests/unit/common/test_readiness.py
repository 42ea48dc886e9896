"""`/readyz` answers at once from the background prober, whatever its checks are doing."""

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.common.http.health import Readiness, health_router


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def _client(readiness: Readiness | None) -> TestClient:
    app = FastAPI()
    app.include_router(health_router())
    if readiness is not None:
        app.state.readiness = readiness
    return TestClient(app)


def _settled(readiness: Readiness, name: str, verdict: str, timeout: float = 3) -> None:
    deadline = time.monotonic() + timeout
    while readiness.report()[name] != verdict and time.monotonic() < deadline:
        time.sleep(0.02)


def test_ready_when_every_check_passes(stop: threading.Event) -> None:
    readiness = Readiness({"database": lambda: None}, every_seconds=0.05)
    readiness.start(stop)
    _settled(readiness, "database", "ok")
    answer = _client(readiness).get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "checks": {"database": "ok"}}


def test_a_failing_check_says_why(stop: threading.Event) -> None:
    readiness = Readiness(
        {"database": lambda: None, "consumer": lambda: "paused: database unreachable"},
        every_seconds=0.05,
    )
    readiness.start(stop)
    _settled(readiness, "consumer", "paused: database unreachable")
    answer = _client(readiness).get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"] == {
        "database": "ok",
        "consumer": "paused: database unreachable",
    }


def test_a_hanging_check_fails_without_holding_up_the_answer(stop: threading.Event) -> None:
    hang = threading.Event()
    readiness = Readiness({"broker": lambda: None if hang.wait(30) else "x"}, timeout_seconds=0.3)
    readiness.start(stop)
    time.sleep(0.5)
    started = time.monotonic()
    answer = _client(readiness).get("/readyz")
    assert time.monotonic() - started < 1
    assert answer.status_code == 503
    assert answer.json()["checks"] == {"broker": "no answer within 0.3 s"}
    hang.set()


def test_not_ready_before_the_prober_starts() -> None:
    assert _client(None).get("/readyz").status_code == 503
