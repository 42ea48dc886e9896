"""Every object: well-formed, unique, in the qunyun namespace, on a supported API version.

Built-in kinds are validated against the Kubernetes OpenAPI schema; the operators' kinds have
no schema offline, so they are held to the v1 APIs here and checked structurally elsewhere.
"""

from __future__ import annotations

from .render import NAMESPACE, Render, ref

CRD_GROUPS = {"kafka.strimzi.io", "postgresql.cnpg.io", "monitoring.coreos.com"}
EXPECTED_CRD_VERSIONS = {
    "kafka.strimzi.io": "kafka.strimzi.io/v1",
    "postgresql.cnpg.io": "postgresql.cnpg.io/v1",
    "monitoring.coreos.com": "monitoring.coreos.com/v1",
}


def check_objects(r: Render) -> None:
    seen: set[tuple[str, str, str]] = set()
    for d in r.docs:
        where = ref(d)
        if (
            not d.get("apiVersion")
            or not d.get("kind")
            or not (d.get("metadata") or {}).get("name")
        ):
            r.p.add(where, "missing apiVersion, kind or metadata.name")
            continue
        ns = d["metadata"].get("namespace")
        key = (d["kind"], ns or "", d["metadata"]["name"])
        if key in seen:
            r.p.add(where, "defined twice")
        seen.add(key)
        if d["kind"] != "Namespace" and ns != NAMESPACE:
            r.p.add(where, f"namespace is {ns!r}, expected {NAMESPACE!r}")
        group = d["apiVersion"].split("/")[0] if "/" in d["apiVersion"] else ""
        if group in EXPECTED_CRD_VERSIONS and d["apiVersion"] != EXPECTED_CRD_VERSIONS[group]:
            r.p.add(where, f"apiVersion {d['apiVersion']}, expected {EXPECTED_CRD_VERSIONS[group]}")
    if not any(d["metadata"]["name"] == NAMESPACE for d in r.by_kind["Namespace"]):
        r.p.add("Namespace", f"the render does not create namespace {NAMESPACE!r}")


def check_schemas(r: Render) -> int:
    """Returns how many objects were validated, for the summary line."""
    if r.args.no_schemas:
        return 0
    import kubernetes_validate as kv  # imported here: only this check needs it

    checked = 0
    for d in r.docs:
        group = d.get("apiVersion", "").split("/")[0] if "/" in d.get("apiVersion", "") else ""
        if group in CRD_GROUPS:
            continue  # CRDs: no schema offline; the structural checks cover them
        try:
            kv.validate(d, r.args.k8s_version, strict=True)
            checked += 1
        except kv.SchemaNotFoundError:
            r.p.add(
                ref(d),
                f"{d.get('apiVersion')} {d.get('kind')} is not a Kubernetes "
                f"{r.args.k8s_version} kind",
            )
        except kv.ValidationError as e:
            path = ".".join(str(x) for x in e.path) or "(root)"
            r.p.add(ref(d), f"schema: {path}: {e.message}")
    return checked
