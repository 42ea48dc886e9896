"""Every line JSON, uvicorn's included, with the request id; nothing secret written as given."""

import json
import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.common import observability as obs
from services.common.db import make_engine
from services.common.http.middleware import install_request_middleware
from services.common.http.problems import install_problem_handlers


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def _json_logs(capsys: pytest.CaptureFixture[str]) -> None:
    # In the test itself: the handler must write to the stdout capsys has in place then.
    obs.configure_logging("test")
    capsys.readouterr()


def test_uvicorns_own_loggers_write_json(capsys: pytest.CaptureFixture[str]) -> None:
    # As uvicorn sets up at its default level; another test's server may have left it higher.
    logging.getLogger("uvicorn").handlers[:] = [logging.StreamHandler()]
    logging.getLogger("uvicorn.error").setLevel(logging.INFO)
    _json_logs(capsys)
    logging.getLogger("uvicorn.error").info("Started server process [1]")
    (*_, line) = _lines(capsys)
    assert line["logger"] == "uvicorn.error" and line["message"] == "Started server process [1]"


def test_a_500_is_logged_with_its_request_id_and_answers_with_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _json_logs(capsys)
    app = FastAPI()
    install_problem_handlers(app)
    install_request_middleware(app)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaput")

    response = TestClient(app, raise_server_exceptions=False).get(
        "/boom", headers={"X-Request-Id": "req-42"}
    )
    assert response.status_code == 500 and response.headers["x-request-id"] == "req-42"
    assert response.headers["content-type"] == "application/problem+json"
    (error,) = [line for line in _lines(capsys) if line["level"] == "error"]
    assert error["request_id"] == "req-42" and "kaput" in str(error["exception"])


def test_secret_and_member_text_fields_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    _json_logs(capsys)
    logging.getLogger("t").warning("pushed", extra={"secret": "whsec_x", "text": "hi", "n": 1})
    (line,) = _lines(capsys)
    assert (line["secret"], line["text"], line["n"]) == ("[redacted]", "[redacted]", 1)


def test_engines_keep_statement_parameters_out_of_errors() -> None:
    engine = make_engine("postgresql://u@127.0.0.1:1/db")
    assert engine.hide_parameters is True


def test_rows_quoted_by_postgres_stay_out_of_tracebacks(capsys: pytest.CaptureFixture[str]) -> None:
    _json_logs(capsys)
    try:
        raise RuntimeError(
            "null value in column\nDETAIL:  Failing row contains (mbr_1, 林晓, wx_linxiao)."
        )
    except RuntimeError:
        logging.getLogger("t").exception("failed")
    (line,) = _lines(capsys)
    assert "林晓" not in str(line["exception"]) and "[row withheld]" in str(line["exception"])
