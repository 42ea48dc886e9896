"""Startup, liveness and readiness probes on every long-running container.

Liveness must stay on /healthz: /readyz checks the database (and broker), and a liveness
probe that follows them would restart every pod during an outage they cannot fix.
"""

from __future__ import annotations

from typing import Any

from .render import Render


def check_probes(r: Render, where: str, c: dict[str, Any]) -> None:
    port_names = {p.get("name") for p in c.get("ports") or [] if p.get("name")}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        pr = c.get(probe)
        if not pr:
            r.p.add(where, f"{probe} is missing")
            continue
        port = (pr.get("httpGet") or pr.get("tcpSocket") or pr.get("grpc") or {}).get("port")
        # Only a name can be checked against the container; a number is taken on trust.
        if isinstance(port, str) and port not in port_names:
            r.p.add(where, f"{probe} uses port {port!r}, not a named container port")
    if (c.get("livenessProbe") or {}).get("httpGet", {}).get("path") not in (None, "/healthz"):
        r.p.add(
            where,
            "livenessProbe must call /healthz (/readyz checks dependencies: a "
            "broker outage must not restart every pod)",
        )
    if (c.get("readinessProbe") or {}).get("httpGet", {}).get("path") not in (None, "/readyz"):
        r.p.add(where, "readinessProbe must call /readyz")
