"""A dependency outage is a 503 with Retry-After, told apart from bugs and bad input."""

import confluent_kafka
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from kafka.errors import KafkaConnectionError, KafkaTimeoutError

from deploy.local.processes import free_port
from services.common.http.outages import install_outage_handlers
from services.common.http.problems import install_problem_handlers
from services.common.kafka import PublishFailed
from services.common.outages import database_down, is_outage


def _unreachable_engine() -> sa.Engine:
    return sa.create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none",
        connect_args={"connect_timeout": 1},
    )


@pytest.mark.parametrize(
    "error",
    [
        sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused")),
        sa.exc.InterfaceError("SELECT 1", {}, Exception("connection already closed")),
        sa.exc.TimeoutError("QueuePool limit reached"),
        KafkaTimeoutError(),
        KafkaConnectionError("111 ECONNREFUSED"),
        PublishFailed("not acknowledged"),
        confluent_kafka.KafkaException(
            confluent_kafka.KafkaError(confluent_kafka.KafkaError._TRANSPORT, "broker down")
        ),
    ],
)
def test_unreachable_dependencies_are_outages(error: Exception) -> None:
    assert is_outage(error)


def test_an_outage_behind_another_error_is_still_one() -> None:
    try:
        try:
            raise KafkaTimeoutError()
        except KafkaTimeoutError as exc:
            raise RuntimeError("could not publish") from exc
    except RuntimeError as wrapped:
        assert is_outage(wrapped)


@pytest.mark.parametrize(
    "error", [ValueError("bad"), KeyError("x"), sa.exc.IntegrityError("INSERT", {}, Exception())]
)
def test_bugs_and_conflicts_are_not_outages(error: Exception) -> None:
    assert not is_outage(error)


def test_the_database_check_names_what_is_wrong() -> None:
    reason = database_down(_unreachable_engine())
    assert reason is not None and reason.startswith("database unreachable: OperationalError")


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_outage_handlers(app)
    engine = _unreachable_engine()

    @app.get("/members")
    def members() -> list[str]:
        with engine.connect() as conn:  # a real connection attempt to a closed port
            return list(conn.execute(sa.text("SELECT 'x'")).scalars())

    @app.get("/broker")
    async def broker() -> None:
        raise confluent_kafka.KafkaException(
            confluent_kafka.KafkaError(confluent_kafka.KafkaError._TRANSPORT, "broker down")
        )

    @app.get("/bug")
    def bug() -> None:
        raise ValueError("a bug")

    return app


@pytest.mark.parametrize("path", ["/members", "/broker"])
def test_an_outage_answers_503_unavailable_with_retry_after(path: str) -> None:
    answer = TestClient(_app(), raise_server_exceptions=False).get(path)
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "3"
    assert answer.json()["type"] == "https://qunyun.io/problems/unavailable"


def test_a_bug_is_still_a_500() -> None:
    answer = TestClient(_app(), raise_server_exceptions=False).get("/bug")
    assert answer.status_code == 500 and "retry-after" not in answer.headers
