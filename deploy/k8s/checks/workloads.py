"""Every pod template: selector, volumes, resources, image, and its containers' other rules.

This module walks the pods and containers; what is checked on each is shared with security,
probes and references, called in a fixed order so the problems print in a stable order.
"""

from __future__ import annotations

import re
from typing import Any

from . import probes, references, security
from .render import Render, label_selector_matches, ref

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEM = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T|k)?$")
_MEM_FACTORS = {
    None: 1,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def cpu_cores(value: Any) -> float | None:
    m = _CPU.match(str(value))
    if not m:
        return None
    return float(m.group(1)) / (1000 if m.group(2) else 1)


def mem_bytes(value: Any) -> float | None:
    m = _MEM.match(str(value))
    if not m:
        return None
    return float(m.group(1)) * _MEM_FACTORS[m.group(2)]


def check_workloads(r: Render) -> None:
    for w in r.workloads:
        where = ref(w)
        spec = w.get("spec") or {}
        tpl = spec.get("template") or {}
        pod = tpl.get("spec") or {}
        labels = (tpl.get("metadata") or {}).get("labels") or {}
        if w["kind"] != "Job" and not label_selector_matches(spec.get("selector"), labels):
            r.p.add(where, "spec.selector does not match the pod template labels")
        security.check_pod(r, where, pod)
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        for v in volumes.values():
            security.check_volume(r, where, v)
            references.check_volume(r, where, v)
        pod_sc = pod.get("securityContext") or {}
        for c in pod.get("initContainers") or []:
            check_container(r, where, c, pod_sc, volumes, init=True)
        containers = pod.get("containers") or []
        if not containers:
            r.p.add(where, "no containers")
        for c in containers:
            check_container(r, where, c, pod_sc, volumes, init=False)


def check_container(
    r: Render,
    owner: str,
    c: dict[str, Any],
    pod_sc: dict[str, Any],
    volumes: dict[str, Any],
    *,
    init: bool,
) -> None:
    where = f"{owner} container {c.get('name')}"
    security.check_container(r, where, c, pod_sc)
    check_resources(r, where, c)
    check_image(r, where, c)
    if not init:  # init containers run to completion: probes do not apply
        probes.check_probes(r, where, c)
    check_mounts(r, where, c, volumes)
    references.check_env(r, where, c)


def check_resources(r: Render, where: str, c: dict[str, Any]) -> None:
    res = c.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    for part, values in (("requests", req), ("limits", lim)):
        for k in ("cpu", "memory"):
            if k not in values:
                r.p.add(where, f"resources.{part}.{k} is missing")
    for k, parse in (("cpu", cpu_cores), ("memory", mem_bytes)):
        if k in req and k in lim:
            a, b = parse(req[k]), parse(lim[k])
            if a is None or b is None:
                r.p.add(where, f"resources {k}: cannot read {req[k]!r} / {lim[k]!r}")
            elif a > b:
                r.p.add(where, f"resources {k}: request {req[k]} exceeds limit {lim[k]}")


def check_image(r: Render, where: str, c: dict[str, Any]) -> None:
    image = str(c.get("image") or "")
    last = image.rsplit("/", 1)[-1]
    if "@sha256:" not in image:
        if ":" not in last:
            r.p.add(where, f"image {image!r} has no tag (would mean :latest)")
        elif last.rsplit(":", 1)[1] == "latest":
            r.p.add(where, f"image {image!r} uses :latest")


def check_mounts(r: Render, where: str, c: dict[str, Any], volumes: dict[str, Any]) -> None:
    mounts = {m.get("mountPath"): m for m in c.get("volumeMounts") or []}
    for m in mounts.values():
        if m.get("name") not in volumes:
            r.p.add(where, f"volumeMount {m.get('name')!r} has no volume")
    tmp = mounts.get("/tmp")
    if not tmp or "emptyDir" not in (volumes.get(tmp.get("name")) or {}):
        r.p.add(where, "needs an emptyDir mounted at /tmp (the root filesystem is read-only)")
