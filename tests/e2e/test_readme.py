"""The README's API examples, run as written against the e2e platform, so they cannot rot."""

import os
import re
import subprocess
import time
from pathlib import Path

from deploy.local.stack import Stack

README = Path(__file__).resolve().parents[2] / "README.md"


def curl_examples() -> list[str]:
    """Every fenced `sh` block of the README that calls the API with curl."""
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(), flags=re.M | re.S)
    return [block for block in blocks if "curl " in block]


def test_the_readme_has_api_examples() -> None:
    assert curl_examples(), "the README's curl examples moved; point this test at them"


def test_the_readme_api_examples_run_as_written(stack: Stack, tmp_path: Path) -> None:
    # As after `make run`: the admin key in .run/admin-key, the gateway at localhost:8000
    # (here the e2e gateway's own port).
    (tmp_path / ".run").mkdir()
    (tmp_path / ".run" / "admin-key").write_text(stack.admin_api_key)
    gateway = stack.url("gateway").replace("127.0.0.1", "localhost")
    for block in curl_examples():
        script = block.replace("http://localhost:8000", gateway).replace("localhost:8000", gateway)
        # Metrics are eventually consistent (the README says so); the block is safe to repeat:
        # the same Idempotency-Key replays the community, the known identity the member.
        deadline = time.monotonic() + 30
        while True:
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                env={**os.environ, "LC_ALL": "C.UTF-8"},
                timeout=60,
            )
            counted = '"members_total":1' in done.stdout.replace(" ", "")
            if (done.returncode == 0 and counted) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert done.returncode == 0, (
            f"{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
        assert '"members_total":1' in done.stdout.replace(" ", "")
