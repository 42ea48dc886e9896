"""The restricted Pod Security profile, and no way for a pod to reach the API or the host.

The namespace only enforces `baseline`; these rules hold the Qunyun pods to `restricted` and
a little more (no service-account token, no service links) so the overlay cannot drift.
"""

from __future__ import annotations

from typing import Any

from .render import Render

# The uid the image creates and runs as (deploy/k8s/Dockerfile).
APP_UID = 10001


def check_pod(r: Render, where: str, pod: dict[str, Any]) -> None:
    sa_names = {d["metadata"]["name"]: d for d in r.by_kind["ServiceAccount"]}
    if pod.get("automountServiceAccountToken") is not False:
        r.p.add(where, "pod must set automountServiceAccountToken: false")
    sa = pod.get("serviceAccountName")
    if not sa:
        r.p.add(where, "no serviceAccountName (the namespace default would be used)")
    elif sa not in sa_names:
        r.p.add(where, f"ServiceAccount {sa!r} is not in the render")
    elif sa_names[sa].get("automountServiceAccountToken") is not False:
        r.p.add(f"ServiceAccount/{sa}", "must set automountServiceAccountToken: false")
    if pod.get("enableServiceLinks") is not False:
        r.p.add(
            where,
            "pod must set enableServiceLinks: false (service env vars would "
            "leak into the QUNYUN_ settings namespace)",
        )
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        r.p.add(where, "host namespaces are not allowed")


def check_volume(r: Render, where: str, v: dict[str, Any]) -> None:
    if "hostPath" in v:
        r.p.add(where, f"volume {v.get('name')}: hostPath is not allowed")


def check_container(r: Render, where: str, c: dict[str, Any], pod_sc: dict[str, Any]) -> None:
    sc = c.get("securityContext") or {}

    # These may be set once for the pod; a container's own value wins, as in Kubernetes.
    def effective(key: str) -> Any:
        return sc.get(key, pod_sc.get(key))

    if effective("runAsNonRoot") is not True:
        r.p.add(where, "securityContext.runAsNonRoot must be true")
    if effective("runAsUser") != APP_UID:
        r.p.add(where, f"securityContext.runAsUser must be {APP_UID}")
    if sc.get("allowPrivilegeEscalation") is not False:
        r.p.add(where, "securityContext.allowPrivilegeEscalation must be false")
    if sc.get("readOnlyRootFilesystem") is not True:
        r.p.add(where, "securityContext.readOnlyRootFilesystem must be true")
    if sc.get("privileged"):
        r.p.add(where, "securityContext.privileged is not allowed")
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        r.p.add(where, "securityContext.capabilities.drop must contain ALL")
    if caps.get("add"):
        r.p.add(where, f"securityContext.capabilities.add {caps['add']} is not allowed")
    if (effective("seccompProfile") or {}).get("type") != "RuntimeDefault":
        r.p.add(where, "securityContext.seccompProfile.type must be RuntimeDefault")
