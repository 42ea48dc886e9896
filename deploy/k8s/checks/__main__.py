"""Offline checks on one rendered overlay (`kustomize build deploy/k8s/overlays/<name>`).

Run by deploy/k8s/check.sh from the repository root as `python -m deploy.k8s.checks`.
Prints each problem on its own line, then one summary line, and exits 1 if there was any.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path
from typing import Any

import yaml

from . import availability, kafka, monitoring, networking, objects, postgres, references, workloads
from .render import Render


def run(r: Render) -> str:
    """All checks, in a fixed order so the problem list reads the same on every run."""
    objects.check_objects(r)
    schema_checked = objects.check_schemas(r)
    workloads.check_workloads(r)
    networking.check_services(r)
    networking.check_ingresses(r)
    availability.check_autoscaling(r)
    kafka_stats = kafka.check_kafka(r)
    postgres.check_postgres(r)
    mon = monitoring.check_monitoring(r)
    if r.args.ha:
        availability.check_ha(r)
    references.check_unused_external(r)
    counts = collections.Counter(d.get("kind") for d in r.docs)
    schema = (
        f"{schema_checked} validated against Kubernetes {r.args.k8s_version}"
        if not r.args.no_schemas
        else "schemas skipped"
    )
    return (
        f"{len(r.docs)} objects ({counts['Deployment']} Deployments,"
        f" {counts['Service']} Services, {kafka_stats.get('topics', 0)} topics,"
        f" {kafka_stats.get('brokers', 0)} broker(s), {counts['Cluster']} Postgres clusters,"
        f" {mon['alerts']} alerts, {mon['panels']} panels);"
        f" {schema}{'; HA rules on' if r.args.ha else ''}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m deploy.k8s.checks", description=(__doc__ or "").splitlines()[0]
    )
    ap.add_argument("rendered", type=Path, help="output of kustomize build")
    ap.add_argument("--overlay-dir", type=Path, required=True, help="the overlay's directory")
    # deploy/k8s/checks/__main__.py -> the repository root
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[3])
    ap.add_argument("--k8s-version", default="1.33.0", help="Kubernetes schema version")
    ap.add_argument(
        "--ha", action="store_true", help="also apply the production availability rules"
    )
    ap.add_argument("--no-schemas", action="store_true", help="skip the OpenAPI schema validation")
    args = ap.parse_args(argv)
    name = args.overlay_dir.name
    try:
        docs: list[dict[str, Any]] = [d for d in yaml.safe_load_all(args.rendered.read_text()) if d]
        r = Render(docs, args)
        summary = run(r)
        problems = r.p.items
    except Exception as e:  # a crash is a failure too, reported on the summary line
        problems = [f"checker error: {type(e).__name__}: {e}"]
    for line in problems:
        print(f"  {name}: {line}")
    if problems:
        print(f"FAIL {name}: {len(problems)} problem(s)")
        return 1
    print(f"ok   {name}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
