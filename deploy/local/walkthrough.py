"""`make demo`: against a running `make run`, create a community, add a member, and watch the
join arrive in the metrics service's read model through Kafka."""

import sys
import time
from pathlib import Path

import httpx

GATEWAY = "http://127.0.0.1:8000"
KEY_FILE = Path(__file__).resolve().parents[2] / ".run" / "admin-key"


def main() -> int:
    if not KEY_FILE.exists():
        print("No .run/admin-key: start the platform with `make run` first.")
        return 1
    headers = {"Authorization": f"Bearer {KEY_FILE.read_text().strip()}"}
    with httpx.Client(base_url=GATEWAY, headers=headers, timeout=10) as api:
        try:
            community = api.post(
                "/v1/communities",
                json={"name": "周三读书会", "purpose": "interest", "timezone": "Asia/Shanghai"},
            ).json()
        except httpx.ConnectError:
            print(f"Nothing answers at {GATEWAY}: start the platform with `make run` first.")
            return 1
        print(f"1. POST /v1/communities             → {community['id']}")
        overview = f"/v1/metrics/communities/{community['id']}/overview"
        member = api.post(
            f"/v1/communities/{community['id']}/members",
            json={
                "display_name": "林晓",
                "identities": [{"platform": "wechat", "external_id": "wx_demo_walk"}],
            },
        )
        joined_at = time.monotonic()
        print(f"2. POST …/members                    → {member.status_code} {member.json()['id']}")
        print("3. members commits the member and io.qunyun.member.joined.v1 to its outbox;")
        print("   its relay publishes to qunyun.members.v1; metrics consumes it.")
        while time.monotonic() - joined_at < 15:
            total = api.get(overview).json().get("members_total")
            if total == 1:
                elapsed = (time.monotonic() - joined_at) * 1000
                print(f"4. GET {overview} → members_total=1, {elapsed:.0f} ms after the join")
                return 0
            time.sleep(0.05)
    print("4. metrics did not see the join within 15 s; check .run/logs/metrics.log")
    return 1


if __name__ == "__main__":
    sys.exit(main())
