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

import httpx

from deploy.local.stack import Stack
from tests.e2e.api_keys import workspace_key

CONFIG = Path(__file__).with_name("schemathesis.toml")

# Server errors and undocumented answers of the members service, for its owner to fix after
# the members reshape. Remove a line when its finding is fixed; anything else fails the test.
KNOWN_MEMBERS_FINDINGS = frozenset(
    {
        # `attributes: null` is stored, then MemberPublic refuses it; `role: null` reaches
        # a NOT NULL column.
        ("ST101", "PATCH /v1/communities/{community_id}/members/{member_id}"),
        ("ST103", "PATCH /v1/communities/{community_id}/members/{member_id}"),
        ("ST101", "POST /v1/communities/{community_id}/leads"),
        # 200 for an identity already known is not documented.
        ("ST103", "POST /v1/communities/{community_id}/leads"),
        ("ST103", "POST /v1/communities/{community_id}/members"),
        # 409 `already-merged` is not declared with problem_responses.
        ("ST103", "POST /v1/communities/{community_id}/members/{member_id}/merge"),
    }
)

# Schema precision (issue 8, still open): request schemas that promise what a route refuses
# (ST202: cross-field rules such as `from` before `to`, enums with values a route rejects,
# domain rules) or take what they should refuse (ST201: loose query parameters). Members has
# adopted RequestModel; content, events and metrics and the rest of members' rules have not
# yet. This is tolerated for every service until then; server errors (ST101), undocumented
# statuses (ST103) and content types (ST102) fail the test wherever they are.
SCHEMA_PRECISION_CHECKS_TOLERATED = frozenset({"ST201", "ST202"})


_API_ERRORS = frozenset({"Network Error", "Server Unavailable", "Unresponsive Operation"})


def _tolerated(code: str, operation: str) -> bool:
    return (code, operation) in KNOWN_MEMBERS_FINDINGS or code in SCHEMA_PRECISION_CHECKS_TOLERATED


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
    new = sorted(finding for finding in found if not _tolerated(*finding))
    summary = run.stdout[run.stdout.find("FAILURES") :][-20000:]
    assert not new, f"new findings {new}\n{summary}"
