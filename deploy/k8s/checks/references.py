"""Secrets, ConfigMaps and env variables that pods and Ingresses refer to must exist.

A Secret may come from the render, from an operator for a rendered object (CloudNativePG's
`<cluster>-app`), or from the overlay's external-secrets.txt, which lists what must be created
by hand before the first apply; a line there that nothing uses any more is reported too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .render import Render

# Keys CloudNativePG writes into the `<cluster>-app` Secret (pkg/specs/secrets.go).
CNPG_APP_SECRET_KEYS = {
    "username",
    "user",
    "password",
    "host",
    "port",
    "dbname",
    "pgpass",
    "uri",
    "jdbc-uri",
    "fqdn-uri",
    "fqdn-jdbc-uri",
}


def read_external_secrets(path: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2:
            raise ValueError(f"{path}: '{line}' needs a name and comma-separated keys")
        out[parts[0]] = set(parts[1].split(","))
    return out


def require_secret(
    r: Render, where: str, name: str | None, key: str | None, optional: bool | None = False
) -> None:
    if optional:
        return
    if not name:
        r.p.add(where, "references a Secret without a name")
        return
    if name in r.secrets:
        s = r.secrets[name]
        keys = set(s.get("data") or {}) | set(s.get("stringData") or {})
        if key and key not in keys:
            r.p.add(where, f"Secret {name} has no key {key!r} (has {sorted(keys)})")
    elif name in r.cnpg_secrets:
        if key and key not in CNPG_APP_SECRET_KEYS:
            r.p.add(where, f"CloudNativePG does not write key {key!r} into {name}")
    elif name in r.external:
        r.external_used.add(name)
        if key and key not in r.external[name]:
            r.p.add(where, f"external-secrets.txt lists {name} without key {key!r}")
    else:
        r.p.add(
            where,
            f"Secret {name!r} is neither rendered, written by an operator for a "
            f"rendered object, nor listed in {r.args.overlay_dir.name}/external-secrets.txt",
        )


def require_configmap(
    r: Render, where: str, name: str | None, key: str | None, optional: bool | None = False
) -> None:
    if optional:
        return
    cm = r.configmaps.get(name or "")
    if cm is None:
        r.p.add(where, f"ConfigMap {name!r} is not in the render")
    elif key and key not in (cm.get("data") or {}):
        r.p.add(where, f"ConfigMap {name} has no key {key!r}")


def check_volume(r: Render, where: str, v: dict[str, Any]) -> None:
    if "secret" in v:
        require_secret(r, where, v["secret"].get("secretName"), None)
    if "configMap" in v:
        require_configmap(r, where, v["configMap"].get("name"), None)


def check_env(r: Render, where: str, c: dict[str, Any]) -> None:
    for src in c.get("envFrom") or []:
        if "secretRef" in src:
            require_secret(
                r,
                where,
                src["secretRef"].get("name"),
                None,
                optional=src["secretRef"].get("optional"),
            )
        if "configMapRef" in src:
            require_configmap(
                r,
                where,
                src["configMapRef"].get("name"),
                None,
                optional=src["configMapRef"].get("optional"),
            )
    # Kubernetes expands $(VAR) only from variables defined before it in the list; anything
    # else is passed through literally, which would silently break a URL or DSN.
    defined: set[str] = set()
    for e in c.get("env") or []:
        name = e.get("name")
        value_from = e.get("valueFrom") or {}
        if "secretKeyRef" in value_from:
            s = value_from["secretKeyRef"]
            require_secret(r, where, s.get("name"), s.get("key"), optional=s.get("optional"))
        if "configMapKeyRef" in value_from:
            s = value_from["configMapKeyRef"]
            require_configmap(r, where, s.get("name"), s.get("key"), optional=s.get("optional"))
        for var in re.findall(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)", str(e.get("value") or "")):
            if var not in defined:
                r.p.add(
                    where,
                    f"env {name}: $({var}) is not defined above it, so it would stay literal",
                )
        defined.add(name)


def check_unused_external(r: Render) -> None:
    """Run after every other check: only then is external_used complete."""
    for name in sorted(set(r.external) - r.external_used):
        r.p.add(
            f"{r.args.overlay_dir.name}/external-secrets.txt",
            f"{name} is listed but nothing in the render references it",
        )
