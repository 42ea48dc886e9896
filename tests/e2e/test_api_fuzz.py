"""Schemathesis over the gateway's merged document, with a valid key: every default check
(server errors, undocumented statuses and content types, response schemas, negative data),
a few examples per operation, so the build fails on a 5xx or a document that lies.

Known findings wait below, each to be removed when it is fixed; anything else fails the test.
"""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import httpx

from deploy.local.stack import Stack
from tests.e2e.api_keys import workspace_key

CONFIG = Path(__file__).with_name("schemathesis.toml")

# Schema precision (issue 8, still open for content, events, metrics and the gateway): request
# schemas that promise what a route refuses (ST202) or take what they should refuse (ST201).
# The run of 2026-11-30 (seed 20261130) found 36 such findings on operations of those four, e.g.
# `GET /v1/metrics/communities/{community_id}/daily?to=0` answered 200 (ST201: `to` is a date)
# and `?from=0227-09-09` 422 `metrics-range-invalid` (ST202); `POST
# /v1/submissions/{submission_id}/reject` with `{}` 422 `rejection-reason-required` (ST202:
# the schema does not say a reason is needed); `POST
# /v1/webhooks/endpoints` with `"event_types": [""]` 422 (ST202: the pattern is not in the
# schema). Their owners have not adopted RequestModel's rules yet, so these stay tolerated
# there. Members' operations are held to them: of its 25 such findings, what the schema or the
# server could fix was fixed, and the 422s of rules no schema can state (a reused
# Idempotency-Key, ids that are not in the community, limits set per community) are expected
# per operation in schemathesis.toml, each with its reason. Server errors (ST101),
# undocumented statuses (ST103) and content types (ST102) fail the test everywhere.
SCHEMA_PRECISION_CHECKS = frozenset({"ST201", "ST202"})


_API_ERRORS = frozenset({"Network Error", "Server Unavailable", "Unresponsive Operation"})


def _operations(document: dict[str, Any]) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "put", "post", "patch", "delete")
    }


def _tolerated(code: str, operation: str, members_operations: set[str]) -> bool:
    return code in SCHEMA_PRECISION_CHECKS and operation not in members_operations


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    stack: Stack, tmp_path: Path
) -> None:
    key = workspace_key(stack, "ws_fuzz")
    gateway = stack.url("gateway")
    headers = {"Authorization": f"Bearer {key}"}
    community = httpx.post(
        gateway + "/v1/communities",
        headers=headers,
        json={"name": "fuzz", "purpose": "interest", "timezone": "Asia/Shanghai"},
        timeout=15,
    ).json()["id"]
    member = httpx.post(
        f"{gateway}/v1/communities/{community}/members",
        headers=headers,
        json={"display_name": "f", "identities": [{"platform": "wechat", "external_id": "wx_f"}]},
        timeout=15,
    ).json()["id"]
    # Which operations members serves: its own document, as the gateway reads it to merge.
    members_operations = _operations(httpx.get(stack.url("members") + "/openapi.json").json())
    assert "PATCH /v1/communities/{community_id}/settings" in members_operations
    report = tmp_path / "report.json"
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"),
            "--config-file",
            str(CONFIG),
            "run",
            gateway + "/openapi.json",
            "--header",
            f"Authorization: Bearer {key}",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "5",
            "--workers",
            "2",
            "--seed",
            "20261130",
            "--no-shrink",
            "--request-timeout",
            "15",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        env={
            **os.environ,
            "QY_FUZZ_COMMUNITY_ID": community,
            "QY_FUZZ_MEMBER_ID": member,
            "NO_COLOR": "1",
        },
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,  # schemathesis keeps a cache folder where it runs
    )
    assert report.exists(), run.stdout[-5000:] + run.stderr[-5000:]
    outcome = json.loads(report.read_text())
    assert outcome["operations"]["tested"] >= 80, outcome["operations"]
    errors = {e["title"] for e in outcome["errors"]}
    details = run.stdout[run.stdout.find("ERRORS") :][-20000:]
    # The API's fault: it did not answer. Anything else is schemathesis's own trouble with
    # one generated case (seen under heavy load, never reproduced): shown, not failed.
    assert not errors & _API_ERRORS, details
    if errors:
        warnings.warn(f"schemathesis errors {sorted(errors)}:\n{details}", stacklevel=1)
    found = {
        (failure["code"], operation)
        for failure in outcome["failures"]
        for operation in failure["operations"]
    }
    new = sorted(finding for finding in found if not _tolerated(*finding, members_operations))
    summary = run.stdout[run.stdout.find("FAILURES") :][-20000:]
    assert not new, f"new findings {new}\n{summary}"
