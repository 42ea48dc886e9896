"""Schemathesis over the gateway's merged document, with a valid key: every default check
(server errors, undocumented statuses and content types, response schemas, negative data),
a few examples per operation, so the build fails on a 5xx or a document that lies.

The findings that are so by design are named below; anything else fails the test.
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

# Schema precision (ST201: a request the schema forbids was taken; ST202: one it allows was
# refused) holds on every operation; the rules no schema can state (a reused Idempotency-Key,
# ids that are not in the community, state a body cannot know of) are expected per operation
# in schemathesis.toml, each with its reason. Server errors (ST101), undocumented statuses
# (ST103) and content types (ST102) fail the test everywhere.
BY_DESIGN = frozenset(
    {
        # Bulk ingestion keeps the valid items of a batch and answers each invalid one
        # `rejected` with its reason inside the 202 (issue 15), so an item the schema forbids
        # is answered, on purpose, without refusing the whole request.
        ("ST201", "POST /v1/ingest/group-events"),
        ("ST201", "POST /v1/ingest/messages"),
    }
)


_API_ERRORS = frozenset({"Network Error", "Server Unavailable", "Unresponsive Operation"})


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
    # Its output goes to a file, not a pipe: a run cut short by the timeout still shows how far
    # it got and what it found.
    log_path = tmp_path / "schemathesis.log"
    with log_path.open("w") as log:
        subprocess.run(
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
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=900,
            cwd=tmp_path,  # schemathesis keeps a cache folder where it runs
        )
    output = log_path.read_text(errors="replace")
    assert report.exists(), output[-10000:]
    outcome = json.loads(report.read_text())
    assert outcome["operations"]["tested"] >= 80, outcome["operations"]
    errors = {e["title"] for e in outcome["errors"]}
    details = output[output.find("ERRORS") :][-20000:]
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
    new = sorted(found - BY_DESIGN)
    summary = output[output.find("FAILURES") :][-20000:]
    assert not new, f"new findings {new}\n{summary}"
