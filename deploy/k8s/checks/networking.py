"""Services and Ingresses route to something that exists, by names that exist.

A Service whose selector or targetPort matches nothing renders and applies without error and
only fails at the first request, which is why it is checked here.
"""

from __future__ import annotations

from typing import Any

from .references import require_secret
from .render import Render, ref


def container_port_names(workload: dict[str, Any]) -> set[str]:
    return {
        p.get("name")
        for c in workload["spec"]["template"]["spec"].get("containers") or []
        for p in c.get("ports") or []
        if p.get("name")
    }


def check_services(r: Render) -> None:
    for s in r.by_kind["Service"]:
        where = ref(s)
        spec = s.get("spec") or {}
        if not spec.get("selector"):
            r.p.add(where, "has no selector")
            continue
        targets = r.pods_selected(spec["selector"])
        if not targets:
            r.p.add(where, f"selector {spec['selector']} matches no Deployment's pods")
            continue
        if len(targets) > 1:
            r.p.add(
                where,
                f"selector matches pods of several workloads: {[ref(t) for t in targets]}",
            )
        for port in spec.get("ports") or []:
            tp = port.get("targetPort")
            if isinstance(tp, str) and not all(tp in container_port_names(t) for t in targets):
                r.p.add(where, f"targetPort {tp!r} is not a named port of {ref(targets[0])}")


def service_port_names(r: Render, name: str) -> set[str] | None:
    for s in r.by_kind["Service"]:
        if s["metadata"]["name"] == name:
            return {p.get("name") for p in s["spec"].get("ports") or []} | {
                str(p.get("port")) for p in s["spec"].get("ports") or []
            }
    return None


def check_ingresses(r: Render) -> None:
    for ing in r.by_kind["Ingress"]:
        where = ref(ing)
        spec = ing.get("spec") or {}
        backends = [spec["defaultBackend"]] if spec.get("defaultBackend") else []
        for rule in spec.get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                backends.append(path.get("backend") or {})
                if path.get("path") in ("/", "/metrics") and path.get("pathType") in (
                    "Prefix",
                    "ImplementationSpecific",
                    "Exact",
                ):
                    r.p.add(
                        where,
                        f"path {path.get('path')} would expose /metrics, /healthz "
                        f"and /readyz publicly",
                    )
        for b in backends:
            svc = b.get("service") or {}
            ports = service_port_names(r, svc.get("name", ""))
            if ports is None:
                r.p.add(where, f"backend Service {svc.get('name')!r} is not in the render")
                continue
            port = svc.get("port") or {}
            wanted = port.get("name") or str(port.get("number"))
            if wanted not in ports:
                r.p.add(where, f"Service {svc.get('name')} has no port {wanted!r}")
        for tls in spec.get("tls") or []:
            if tls.get("secretName"):
                require_secret(r, where, tls["secretName"], None)
