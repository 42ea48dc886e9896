#!/usr/bin/env python3
"""Offline checks on one rendered overlay (`kustomize build deploy/k8s/overlays/<name>`).

Run by deploy/k8s/check.sh; needs PyYAML, and kubernetes-validate for the schema check.
Prints each problem on its own line, then one summary line, and exits 1 if there was any.

What it asserts, besides "every object parses":
- built-in kinds validate against the Kubernetes OpenAPI schema (strict: unknown fields fail);
- every pod template: the restricted securityContext, requests and limits, startup/liveness/
  readiness probes on named ports, an image pinned to a tag that is not `latest`, a writable
  /tmp from an emptyDir, no service-account token, no service links;
- every Secret/ConfigMap a pod or Ingress names exists: rendered, written by an operator for an
  object in the render (CloudNativePG's `<cluster>-app`), or listed with its keys in the
  overlay's external-secrets.txt (and every line there is still used);
- env `$(VAR)` references point at variables defined earlier in the same container;
- Services, Ingresses, HPAs, PDBs and the ServiceMonitor select/target what exists;
- Kafka topics equal services/common/contracts/topics.py (+ `.dlq`), partitions/replicas agree
  with QUNYUN_KAFKA_* in the ConfigMap and fit the broker count;
- each process's database Cluster bootstraps `qunyun_<process>`;
- alert and dashboard expressions only use qunyun_* series defined in
  services/common/observability.py, and the required alerts are there;
- with --ha: several replicas (or an HPA), a PDB and spread constraints per Deployment, Kafka
  with >= 3 brokers / RF 3 / min ISR 2, Postgres with >= 2 instances.
"""

from __future__ import annotations

import argparse
import ast
import collections
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

NAMESPACE = "qunyun"
APP_UID = 10001
CRD_GROUPS = {"kafka.strimzi.io", "postgresql.cnpg.io", "monitoring.coreos.com"}
EXPECTED_CRD_VERSIONS = {
    "kafka.strimzi.io": "kafka.strimzi.io/v1",
    "postgresql.cnpg.io": "postgresql.cnpg.io/v1",
    "monitoring.coreos.com": "monitoring.coreos.com/v1",
}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
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
PROCESSES = ("gateway", "members", "content", "events", "metrics")
# Connections one replica may hold: SQLAlchemy pool_size 10 + max_overflow 10
# (services/common/db.py), and what PostgreSQL keeps for superusers.
POOL_CONNECTIONS_PER_REPLICA = 20
PG_RESERVED_CONNECTIONS = 3
# Series the alerts must watch (the brief's five alerts), and the dashboard must show.
REQUIRED_RULE_SERIES = {
    "qunyun_outbox_oldest_unsent_age_seconds",
    "qunyun_consumer_lag",
    "qunyun_consumer_events_total",
    "qunyun_http_requests_total",
    "qunyun_http_request_duration_seconds_bucket",
}
REQUIRED_DASHBOARD_SERIES = REQUIRED_RULE_SERIES | {
    "qunyun_outbox_backlog",
    "qunyun_outbox_publish_failures_total",
}
NON_QUNYUN_SERIES_ALLOWED = {"up"}


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def ref(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


# --- small parsers ---------------------------------------------------------------------------

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


def label_selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """matchLabels + matchExpressions (In, NotIn, Exists, DoesNotExist); empty selects nothing."""
    if not selector:
        return False
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}  # a Service's plain map selector
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return bool(selector.get("matchLabels") or selector.get("matchExpressions"))


def topics_from_contracts(path: Path) -> set[str]:
    """ALL_TOPICS of services/common/contracts/topics.py, read with ast (nothing is imported)."""
    tree = ast.parse(path.read_text(), str(path))
    consts: dict[str, str] = {}
    all_names: list[str] = []
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            name = node.targets[0].id
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                consts[name] = node.value.value
            elif name == "ALL_TOPICS" and isinstance(node.value, (ast.Tuple, ast.List)):
                all_names = [e.id for e in node.value.elts if isinstance(e, ast.Name)]
    if not all_names:
        raise ValueError(f"{path}: no ALL_TOPICS tuple of names found")
    return {consts[n] for n in all_names}


def series_from_observability(path: Path) -> set[str]:
    """Every series name prometheus_client exposes for the metrics declared in the module."""
    text = path.read_text()
    series: set[str] = set()
    for kind, name in re.findall(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"(qunyun_\w+)\"", text):
        if kind == "Counter":
            base = name[: -len("_total")] if name.endswith("_total") else name
            series |= {f"{base}_total", f"{base}_created"}
        elif kind == "Gauge":
            series.add(name)
        elif kind == "Histogram":
            series |= {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
        else:
            series |= {name, f"{name}_sum", f"{name}_count", f"{name}_created"}
    if not series:
        raise ValueError(f"{path}: no qunyun_* metrics found")
    return series


_PROMQL_WORDS = {
    "sum",
    "max",
    "min",
    "avg",
    "count",
    "by",
    "without",
    "rate",
    "irate",
    "increase",
    "deriv",
    "delta",
    "histogram_quantile",
    "topk",
    "bottomk",
    "and",
    "or",
    "unless",
    "offset",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "abs",
    "clamp_min",
    "clamp_max",
    "time",
    "vector",
    "label_replace",
    "absent",
    "le",
    "bool",
}


def series_in_expr(expr: str) -> set[str]:
    """Metric names an expression selects: qunyun_* names plus any bare identifier left over."""
    no_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    no_labels = re.sub(r"\{[^}]*\}", "{}", no_strings)
    no_groupings = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", no_labels
    )
    names = set(re.findall(r"\bqunyun_\w+", no_groupings))
    for word in re.findall(r"(?<![\w$])([a-zA-Z_][\w:]*)(?=\s*\{)", no_groupings):
        if word not in _PROMQL_WORDS:
            names.add(word)
    return names


def balanced(expr: str) -> bool:
    pairs, stack = {")": "(", "]": "[", "}": "{"}, []
    for ch in re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr):
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            return False
    return not stack


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


# --- the checks --------------------------------------------------------------------------------


class Checker:
    def __init__(self, docs: list[dict[str, Any]], args: argparse.Namespace) -> None:
        self.docs = docs
        self.args = args
        self.p = Problems()
        self.by_kind: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        for d in docs:
            self.by_kind[d.get("kind", "?")].append(d)
        self.configmaps = {d["metadata"]["name"]: d for d in self.by_kind["ConfigMap"]}
        self.secrets = {d["metadata"]["name"]: d for d in self.by_kind["Secret"]}
        self.external = read_external_secrets(args.overlay_dir / "external-secrets.txt")
        self.external_used: set[str] = set()
        self.cnpg_secrets = {
            f"{c['metadata']['name']}-app": c
            for c in self.by_kind["Cluster"]
            if c.get("apiVersion", "").startswith("postgresql.cnpg.io/")
            and not (((c.get("spec") or {}).get("bootstrap") or {}).get("initdb") or {}).get(
                "secret"
            )
        }
        self.workloads = [d for d in docs if d.get("kind") in POD_TEMPLATE_KINDS]

    # generic ------------------------------------------------------------------------------

    def check_objects(self) -> None:
        seen: set[tuple[str, str, str]] = set()
        for d in self.docs:
            where = ref(d)
            if (
                not d.get("apiVersion")
                or not d.get("kind")
                or not (d.get("metadata") or {}).get("name")
            ):
                self.p.add(where, "missing apiVersion, kind or metadata.name")
                continue
            ns = d["metadata"].get("namespace")
            key = (d["kind"], ns or "", d["metadata"]["name"])
            if key in seen:
                self.p.add(where, "defined twice")
            seen.add(key)
            if d["kind"] != "Namespace" and ns != NAMESPACE:
                self.p.add(where, f"namespace is {ns!r}, expected {NAMESPACE!r}")
            group = d["apiVersion"].split("/")[0] if "/" in d["apiVersion"] else ""
            if group in EXPECTED_CRD_VERSIONS and d["apiVersion"] != EXPECTED_CRD_VERSIONS[group]:
                self.p.add(
                    where, f"apiVersion {d['apiVersion']}, expected {EXPECTED_CRD_VERSIONS[group]}"
                )
        if not any(d["metadata"]["name"] == NAMESPACE for d in self.by_kind["Namespace"]):
            self.p.add("Namespace", f"the render does not create namespace {NAMESPACE!r}")

    def check_schemas(self) -> int:
        if self.args.no_schemas:
            return 0
        import kubernetes_validate as kv  # imported here: only this check needs it

        checked = 0
        for d in self.docs:
            group = d.get("apiVersion", "").split("/")[0] if "/" in d.get("apiVersion", "") else ""
            if group in CRD_GROUPS:
                continue  # CRDs: no schema offline; the structural checks below cover them
            try:
                kv.validate(d, self.args.k8s_version, strict=True)
                checked += 1
            except kv.SchemaNotFoundError:
                self.p.add(
                    ref(d),
                    f"{d.get('apiVersion')} {d.get('kind')} is not a Kubernetes "
                    f"{self.args.k8s_version} kind",
                )
            except kv.ValidationError as e:
                path = ".".join(str(x) for x in e.path) or "(root)"
                self.p.add(ref(d), f"schema: {path}: {e.message}")
        return checked

    # pods ---------------------------------------------------------------------------------

    def check_workloads(self) -> None:
        sa_names = {d["metadata"]["name"]: d for d in self.by_kind["ServiceAccount"]}
        for w in self.workloads:
            where = ref(w)
            spec = w.get("spec") or {}
            tpl = spec.get("template") or {}
            pod = tpl.get("spec") or {}
            labels = (tpl.get("metadata") or {}).get("labels") or {}
            if w["kind"] != "Job" and not label_selector_matches(spec.get("selector"), labels):
                self.p.add(where, "spec.selector does not match the pod template labels")
            if pod.get("automountServiceAccountToken") is not False:
                self.p.add(where, "pod must set automountServiceAccountToken: false")
            sa = pod.get("serviceAccountName")
            if not sa:
                self.p.add(where, "no serviceAccountName (the namespace default would be used)")
            elif sa not in sa_names:
                self.p.add(where, f"ServiceAccount {sa!r} is not in the render")
            elif sa_names[sa].get("automountServiceAccountToken") is not False:
                self.p.add(f"ServiceAccount/{sa}", "must set automountServiceAccountToken: false")
            if pod.get("enableServiceLinks") is not False:
                self.p.add(
                    where,
                    "pod must set enableServiceLinks: false (service env vars would "
                    "leak into the QUNYUN_ settings namespace)",
                )
            if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
                self.p.add(where, "host namespaces are not allowed")
            volumes = {v.get("name"): v for v in pod.get("volumes") or []}
            for v in volumes.values():
                if "hostPath" in v:
                    self.p.add(where, f"volume {v.get('name')}: hostPath is not allowed")
                if "secret" in v:
                    self.require_secret(where, v["secret"].get("secretName"), None)
                if "configMap" in v:
                    self.require_configmap(where, v["configMap"].get("name"), None)
            pod_sc = pod.get("securityContext") or {}
            for c in pod.get("initContainers") or []:
                self.check_container(where, c, pod_sc, volumes, init=True)
            containers = pod.get("containers") or []
            if not containers:
                self.p.add(where, "no containers")
            for c in containers:
                self.check_container(where, c, pod_sc, volumes, init=False)

    def check_container(
        self,
        owner: str,
        c: dict[str, Any],
        pod_sc: dict[str, Any],
        volumes: dict[str, Any],
        *,
        init: bool,
    ) -> None:
        where = f"{owner} container {c.get('name')}"
        sc = c.get("securityContext") or {}

        def effective(key: str) -> Any:
            return sc.get(key, pod_sc.get(key))

        if effective("runAsNonRoot") is not True:
            self.p.add(where, "securityContext.runAsNonRoot must be true")
        if effective("runAsUser") != APP_UID:
            self.p.add(where, f"securityContext.runAsUser must be {APP_UID}")
        if sc.get("allowPrivilegeEscalation") is not False:
            self.p.add(where, "securityContext.allowPrivilegeEscalation must be false")
        if sc.get("readOnlyRootFilesystem") is not True:
            self.p.add(where, "securityContext.readOnlyRootFilesystem must be true")
        if sc.get("privileged"):
            self.p.add(where, "securityContext.privileged is not allowed")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            self.p.add(where, "securityContext.capabilities.drop must contain ALL")
        if caps.get("add"):
            self.p.add(where, f"securityContext.capabilities.add {caps['add']} is not allowed")
        if (effective("seccompProfile") or {}).get("type") != "RuntimeDefault":
            self.p.add(where, "securityContext.seccompProfile.type must be RuntimeDefault")

        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        for part, values in (("requests", req), ("limits", lim)):
            for r in ("cpu", "memory"):
                if r not in values:
                    self.p.add(where, f"resources.{part}.{r} is missing")
        for r, parse in (("cpu", cpu_cores), ("memory", mem_bytes)):
            if r in req and r in lim:
                a, b = parse(req[r]), parse(lim[r])
                if a is None or b is None:
                    self.p.add(where, f"resources {r}: cannot read {req[r]!r} / {lim[r]!r}")
                elif a > b:
                    self.p.add(where, f"resources {r}: request {req[r]} exceeds limit {lim[r]}")

        image = str(c.get("image") or "")
        last = image.rsplit("/", 1)[-1]
        if "@sha256:" not in image:
            if ":" not in last:
                self.p.add(where, f"image {image!r} has no tag (would mean :latest)")
            elif last.rsplit(":", 1)[1] == "latest":
                self.p.add(where, f"image {image!r} uses :latest")

        port_names = {p.get("name") for p in c.get("ports") or [] if p.get("name")}
        if not init:
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                pr = c.get(probe)
                if not pr:
                    self.p.add(where, f"{probe} is missing")
                    continue
                port = (pr.get("httpGet") or pr.get("tcpSocket") or pr.get("grpc") or {}).get(
                    "port"
                )
                if isinstance(port, str) and port not in port_names:
                    self.p.add(where, f"{probe} uses port {port!r}, not a named container port")
            if (c.get("livenessProbe") or {}).get("httpGet", {}).get("path") not in (
                None,
                "/healthz",
            ):
                self.p.add(
                    where,
                    "livenessProbe must call /healthz (/readyz checks dependencies: a "
                    "broker outage must not restart every pod)",
                )
            if (c.get("readinessProbe") or {}).get("httpGet", {}).get("path") not in (
                None,
                "/readyz",
            ):
                self.p.add(where, "readinessProbe must call /readyz")

        mounts = {m.get("mountPath"): m for m in c.get("volumeMounts") or []}
        for m in mounts.values():
            if m.get("name") not in volumes:
                self.p.add(where, f"volumeMount {m.get('name')!r} has no volume")
        tmp = mounts.get("/tmp")
        if not tmp or "emptyDir" not in (volumes.get(tmp.get("name")) or {}):
            self.p.add(
                where, "needs an emptyDir mounted at /tmp (the root filesystem is read-only)"
            )

        for src in c.get("envFrom") or []:
            if "secretRef" in src:
                self.require_secret(
                    where,
                    src["secretRef"].get("name"),
                    None,
                    optional=src["secretRef"].get("optional"),
                )
            if "configMapRef" in src:
                self.require_configmap(
                    where,
                    src["configMapRef"].get("name"),
                    None,
                    optional=src["configMapRef"].get("optional"),
                )
        defined: set[str] = set()
        for e in c.get("env") or []:
            name = e.get("name")
            value_from = e.get("valueFrom") or {}
            if "secretKeyRef" in value_from:
                s = value_from["secretKeyRef"]
                self.require_secret(where, s.get("name"), s.get("key"), optional=s.get("optional"))
            if "configMapKeyRef" in value_from:
                s = value_from["configMapKeyRef"]
                self.require_configmap(
                    where, s.get("name"), s.get("key"), optional=s.get("optional")
                )
            for var in re.findall(
                r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)", str(e.get("value") or "")
            ):
                if var not in defined:
                    self.p.add(
                        where,
                        f"env {name}: $({var}) is not defined above it, so it would stay literal",
                    )
            defined.add(name)

    def require_secret(
        self, where: str, name: str | None, key: str | None, optional: bool | None = False
    ) -> None:
        if optional:
            return
        if not name:
            self.p.add(where, "references a Secret without a name")
            return
        if name in self.secrets:
            s = self.secrets[name]
            keys = set(s.get("data") or {}) | set(s.get("stringData") or {})
            if key and key not in keys:
                self.p.add(where, f"Secret {name} has no key {key!r} (has {sorted(keys)})")
        elif name in self.cnpg_secrets:
            if key and key not in CNPG_APP_SECRET_KEYS:
                self.p.add(where, f"CloudNativePG does not write key {key!r} into {name}")
        elif name in self.external:
            self.external_used.add(name)
            if key and key not in self.external[name]:
                self.p.add(where, f"external-secrets.txt lists {name} without key {key!r}")
        else:
            self.p.add(
                where,
                f"Secret {name!r} is neither rendered, written by an operator for a "
                f"rendered object, nor listed in {self.args.overlay_dir.name}/external-secrets.txt",
            )

    def require_configmap(
        self, where: str, name: str | None, key: str | None, optional: bool | None = False
    ) -> None:
        if optional:
            return
        cm = self.configmaps.get(name or "")
        if cm is None:
            self.p.add(where, f"ConfigMap {name!r} is not in the render")
        elif key and key not in (cm.get("data") or {}):
            self.p.add(where, f"ConfigMap {name} has no key {key!r}")

    # networking ---------------------------------------------------------------------------

    def pods_selected(self, selector: dict[str, Any] | None) -> list[dict[str, Any]]:
        return [
            w
            for w in self.workloads
            if label_selector_matches(
                selector,
                ((w["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {},
            )
        ]

    def container_port_names(self, workload: dict[str, Any]) -> set[str]:
        return {
            p.get("name")
            for c in workload["spec"]["template"]["spec"].get("containers") or []
            for p in c.get("ports") or []
            if p.get("name")
        }

    def check_services(self) -> None:
        for s in self.by_kind["Service"]:
            where = ref(s)
            spec = s.get("spec") or {}
            if not spec.get("selector"):
                self.p.add(where, "has no selector")
                continue
            targets = self.pods_selected(spec["selector"])
            if not targets:
                self.p.add(where, f"selector {spec['selector']} matches no Deployment's pods")
                continue
            if len(targets) > 1:
                self.p.add(
                    where,
                    f"selector matches pods of several workloads: {[ref(t) for t in targets]}",
                )
            for port in spec.get("ports") or []:
                tp = port.get("targetPort")
                if isinstance(tp, str) and not all(
                    tp in self.container_port_names(t) for t in targets
                ):
                    self.p.add(where, f"targetPort {tp!r} is not a named port of {ref(targets[0])}")

    def service_port_names(self, name: str) -> set[str] | None:
        for s in self.by_kind["Service"]:
            if s["metadata"]["name"] == name:
                return {p.get("name") for p in s["spec"].get("ports") or []} | {
                    str(p.get("port")) for p in s["spec"].get("ports") or []
                }
        return None

    def check_ingresses(self) -> None:
        for ing in self.by_kind["Ingress"]:
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
                        self.p.add(
                            where,
                            f"path {path.get('path')} would expose /metrics, /healthz "
                            f"and /readyz publicly",
                        )
            for b in backends:
                svc = b.get("service") or {}
                ports = self.service_port_names(svc.get("name", ""))
                if ports is None:
                    self.p.add(where, f"backend Service {svc.get('name')!r} is not in the render")
                    continue
                port = svc.get("port") or {}
                wanted = port.get("name") or str(port.get("number"))
                if wanted not in ports:
                    self.p.add(where, f"Service {svc.get('name')} has no port {wanted!r}")
            for tls in spec.get("tls") or []:
                if tls.get("secretName"):
                    self.require_secret(where, tls["secretName"], None)

    def check_autoscaling(self) -> None:
        deployments = {d["metadata"]["name"]: d for d in self.by_kind["Deployment"]}
        for h in self.by_kind["HorizontalPodAutoscaler"]:
            where = ref(h)
            target = (h.get("spec") or {}).get("scaleTargetRef") or {}
            d = (
                deployments.get(target.get("name", ""))
                if target.get("kind") == "Deployment"
                else None
            )
            if d is None:
                self.p.add(where, f"scaleTargetRef {target} is not a rendered Deployment")
                continue
            if "replicas" in d["spec"]:
                self.p.add(
                    where,
                    f"{ref(d)} also sets spec.replicas: every apply would reset what "
                    f"the HPA chose (drop it in the overlay)",
                )
            if not all(
                "cpu" in ((c.get("resources") or {}).get("requests") or {})
                for c in d["spec"]["template"]["spec"]["containers"]
            ):
                self.p.add(
                    where, "CPU utilisation needs CPU requests on every container of the target"
                )
            spec = h["spec"]
            if spec.get("minReplicas", 1) > spec.get("maxReplicas", 0):
                self.p.add(where, "minReplicas exceeds maxReplicas")
        for pdb in self.by_kind["PodDisruptionBudget"]:
            if not self.pods_selected((pdb.get("spec") or {}).get("selector")):
                self.p.add(ref(pdb), "selector matches no Deployment's pods")

    # operators ----------------------------------------------------------------------------

    def config_value(self, key: str) -> str | None:
        cm = self.configmaps.get("qunyun-config")
        return None if cm is None else (cm.get("data") or {}).get(key)

    def check_kafka(self) -> dict[str, int]:
        stats: dict[str, int] = {}
        kafkas = {k["metadata"]["name"]: k for k in self.by_kind["Kafka"]}
        pools = self.by_kind["KafkaNodePool"]
        topics = self.by_kind["KafkaTopic"]
        if not kafkas:
            if topics or pools:
                self.p.add("Kafka", "KafkaTopic/KafkaNodePool objects without a Kafka cluster")
            return stats
        brokers: dict[str, int] = collections.Counter()
        controllers: dict[str, int] = collections.Counter()
        for pool in pools:
            cluster = str((pool["metadata"].get("labels") or {}).get("strimzi.io/cluster", ""))
            if cluster not in kafkas:
                self.p.add(ref(pool), f"strimzi.io/cluster {cluster!r} is not a rendered Kafka")
                continue
            roles = pool["spec"].get("roles") or []
            if "broker" in roles:
                brokers[cluster] += int(pool["spec"].get("replicas", 0))
            if "controller" in roles:
                controllers[cluster] += int(pool["spec"].get("replicas", 0))
            if not (pool["spec"].get("resources") or {}).get("limits"):
                self.p.add(ref(pool), "resources.limits missing")
        for name, k in kafkas.items():
            if brokers[name] < 1 or controllers[name] < 1:
                self.p.add(f"Kafka/{name}", "needs node pools with broker and controller roles")
            if controllers[name] % 2 == 0:
                self.p.add(
                    f"Kafka/{name}", f"{controllers[name]} KRaft controllers: use an odd number"
                )
            cfg = (k["spec"].get("kafka") or {}).get("config") or {}
            for key in (
                "offsets.topic.replication.factor",
                "transaction.state.log.replication.factor",
                "default.replication.factor",
            ):
                if int(cfg.get(key, 1)) > brokers[name]:
                    self.p.add(
                        f"Kafka/{name}", f"{key}={cfg.get(key)} exceeds {brokers[name]} brokers"
                    )
            if int(cfg.get("min.insync.replicas", 1)) > int(
                cfg.get("default.replication.factor", 1)
            ):
                self.p.add(
                    f"Kafka/{name}", "min.insync.replicas exceeds default.replication.factor"
                )
        stats["brokers"] = max(brokers.values() or [0])

        # The processes reach Kafka through QUNYUN_KAFKA_BOOTSTRAP_SERVERS.
        bootstrap = self.config_value("QUNYUN_KAFKA_BOOTSTRAP_SERVERS")
        plain = {
            f"{n}-kafka-bootstrap:{lst.get('port')}"
            for n, k in kafkas.items()
            for lst in (k["spec"].get("kafka") or {}).get("listeners") or []
            if lst.get("type") == "internal"
            and not lst.get("tls")
            and not lst.get("authentication")
        }
        if bootstrap not in plain:
            self.p.add(
                "ConfigMap/qunyun-config",
                f"QUNYUN_KAFKA_BOOTSTRAP_SERVERS={bootstrap!r} is not a "
                f"plain internal listener of a rendered Kafka {sorted(plain)}",
            )

        # Topics: exactly contracts/topics.py and their dead-letter topics.
        wanted = set()
        for t in topics_from_contracts(self.args.repo / "services/common/contracts/topics.py"):
            wanted |= {t, f"{t}.dlq"}
        have = {(t.get("spec") or {}).get("topicName") or t["metadata"]["name"] for t in topics}
        for t in sorted(wanted - have):
            self.p.add(
                "KafkaTopic", f"{t} is in services/common/contracts/topics.py but has no KafkaTopic"
            )
        for t in sorted(have - wanted):
            self.p.add("KafkaTopic", f"{t} is not a topic of services/common/contracts/topics.py")
        partitions = self.config_value("QUNYUN_KAFKA_PARTITIONS")
        rf = self.config_value("QUNYUN_KAFKA_REPLICATION_FACTOR")
        for topic in topics:
            where = ref(topic)
            spec = topic.get("spec") or {}
            cluster = str((topic["metadata"].get("labels") or {}).get("strimzi.io/cluster", ""))
            if cluster not in kafkas:
                self.p.add(where, f"strimzi.io/cluster {cluster!r} is not a rendered Kafka")
                continue
            if str(spec.get("partitions")) != str(partitions):
                self.p.add(
                    where,
                    f"partitions {spec.get('partitions')} != QUNYUN_KAFKA_PARTITIONS {partitions}",
                )
            if str(spec.get("replicas")) != str(rf):
                self.p.add(
                    where,
                    f"replicas {spec.get('replicas')} != QUNYUN_KAFKA_REPLICATION_FACTOR {rf}",
                )
            replicas = int(spec.get("replicas") or 0)
            if replicas > brokers[cluster]:
                self.p.add(where, f"replicas {replicas} exceeds {brokers[cluster]} brokers")
            isr = int((spec.get("config") or {}).get("min.insync.replicas", 1))
            if replicas > 1 and isr >= replicas:
                self.p.add(
                    where,
                    f"min.insync.replicas {isr} leaves no broker to lose at replicas {replicas}",
                )
            if isr > replicas:
                self.p.add(
                    where,
                    f"min.insync.replicas {isr} exceeds replicas {replicas}: acks=all always fails",
                )
        stats["topics"] = len(topics)
        return stats

    def check_postgres(self) -> None:
        clusters = {c["metadata"]["name"]: c for c in self.by_kind["Cluster"]}
        for c in clusters.values():
            spec = c.get("spec") or {}
            if not isinstance(spec.get("instances"), int) or spec["instances"] < 1:
                self.p.add(ref(c), "spec.instances must be a positive integer")
            if not (spec.get("storage") or {}).get("size"):
                self.p.add(ref(c), "spec.storage.size is missing")
            if not (spec.get("resources") or {}).get("limits"):
                self.p.add(ref(c), "resources.limits missing")
            image = str(spec.get("imageName") or "")
            if image and (":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")):
                self.p.add(ref(c), f"imageName {image!r} is not pinned")
        # Each process's Deployment reads <process>-db-app; that Cluster must bootstrap
        # qunyun_<process>.
        for d in self.by_kind["Deployment"]:
            name = d["metadata"]["name"]
            secret = f"{name}-db-app"
            uses = any(
                (e.get("valueFrom") or {}).get("secretKeyRef", {}).get("name") == secret
                for c in d["spec"]["template"]["spec"]["containers"]
                for e in c.get("env") or []
            )
            if name in PROCESSES and not uses:
                self.p.add(ref(d), f"does not read its database credentials from {secret}")
            cluster = clusters.get(f"{name}-db")
            if uses and cluster is not None:
                db = ((cluster["spec"].get("bootstrap") or {}).get("initdb") or {}).get("database")
                if db != f"qunyun_{name}":
                    self.p.add(
                        ref(cluster), f"bootstraps database {db!r}, expected 'qunyun_{name}'"
                    )
                # Enough connections for the most replicas the Deployment can run at once.
                hpa_max = [
                    h["spec"].get("maxReplicas", 1)
                    for h in self.by_kind["HorizontalPodAutoscaler"]
                    if (h["spec"].get("scaleTargetRef") or {}).get("name") == name
                ]
                replicas = max(hpa_max) if hpa_max else int(d["spec"].get("replicas", 1))
                surge = ((d["spec"].get("strategy") or {}).get("rollingUpdate") or {}).get(
                    "maxSurge", 1
                )
                replicas += surge if isinstance(surge, int) else 1
                wanted = replicas * POOL_CONNECTIONS_PER_REPLICA + PG_RESERVED_CONNECTIONS
                params = (cluster["spec"].get("postgresql") or {}).get("parameters") or {}
                have = int(params.get("max_connections", 100))
                if have < wanted:
                    self.p.add(
                        ref(cluster),
                        f"max_connections {have} < {wanted} that {replicas} pods of {name} "
                        f"(rollout surge included) may open",
                    )

    # monitoring ---------------------------------------------------------------------------

    def check_monitoring(self, defined: set[str]) -> dict[str, int]:
        stats = {"alerts": 0, "panels": 0}
        app_services = [
            s
            for s in self.by_kind["Service"]
            if (s["metadata"].get("labels") or {}).get("app.kubernetes.io/part-of") == "qunyun"
            and self.pods_selected(s["spec"].get("selector"))
        ]
        monitors = self.by_kind["ServiceMonitor"]
        if monitors:
            for svc in app_services:
                labels = svc["metadata"].get("labels") or {}
                picked = [
                    m
                    for m in monitors
                    if label_selector_matches((m.get("spec") or {}).get("selector"), labels)
                ]
                if not picked:
                    self.p.add(
                        ref(svc), "no ServiceMonitor selects it: its /metrics would not be scraped"
                    )
                for m in picked:
                    ports = {p.get("name") for p in svc["spec"].get("ports") or []}
                    for ep in m["spec"].get("endpoints") or []:
                        if ep.get("port") not in ports:
                            self.p.add(
                                ref(m),
                                f"endpoint port {ep.get('port')!r} is not a port of {ref(svc)}",
                            )
                        if ep.get("path", "/metrics") != "/metrics":
                            self.p.add(ref(m), "the processes serve metrics at /metrics")

        def check_expr(where: str, expr: str) -> set[str]:
            if not balanced(expr):
                self.p.add(where, "unbalanced brackets in expression")
            used = series_in_expr(expr)
            for s in sorted(used):
                if s.startswith("qunyun_") and s not in defined:
                    self.p.add(where, f"{s} is not a series of services/common/observability.py")
                elif not s.startswith("qunyun_") and s not in NON_QUNYUN_SERIES_ALLOWED:
                    self.p.add(where, f"unexpected series {s!r}")
            return used

        rules = self.by_kind["PrometheusRule"]
        if rules:
            used_by_rules: set[str] = set()
            names: set[str] = set()
            for r in rules:
                for g in (r.get("spec") or {}).get("groups") or []:
                    for rule in g.get("rules") or []:
                        where = f"{ref(r)} {rule.get('alert') or rule.get('record')}"
                        if "alert" in rule:
                            stats["alerts"] += 1
                            if rule["alert"] in names:
                                self.p.add(where, "alert defined twice")
                            names.add(rule["alert"])
                            if (rule.get("labels") or {}).get("severity") not in (
                                "critical",
                                "warning",
                                "info",
                            ):
                                self.p.add(
                                    where, "labels.severity must be critical, warning or info"
                                )
                            if not (rule.get("annotations") or {}).get("summary"):
                                self.p.add(where, "annotations.summary is missing")
                            if "for" in rule and not re.fullmatch(
                                r"(\d+[smhdwy])+", str(rule["for"])
                            ):
                                self.p.add(where, f"for: {rule['for']!r} is not a duration")
                        if not str(rule.get("expr") or "").strip():
                            self.p.add(where, "expr is empty")
                            continue
                        used_by_rules |= check_expr(where, str(rule["expr"]))
            for s in sorted(REQUIRED_RULE_SERIES - used_by_rules):
                self.p.add("PrometheusRule", f"no alert watches {s}")

        for cm in self.configmaps.values():
            if (cm["metadata"].get("labels") or {}).get("grafana_dashboard") is None:
                continue
            if cm["metadata"]["labels"]["grafana_dashboard"] != "1":
                self.p.add(ref(cm), 'label grafana_dashboard must be "1"')
            for fname, body in (cm.get("data") or {}).items():
                where = f"{ref(cm)} {fname}"
                try:
                    dash = json.loads(body)
                except ValueError as e:
                    self.p.add(where, f"not JSON: {e}")
                    continue
                panels = list(dash.get("panels") or [])
                for p in list(panels):
                    panels.extend(p.get("panels") or [])
                ids = [p.get("id") for p in panels]
                if len(ids) != len(set(ids)):
                    self.p.add(where, "panel ids repeat")
                used: set[str] = set()
                for p in panels:
                    for t in p.get("targets") or []:
                        if t.get("expr"):
                            used |= check_expr(f"{where} panel {p.get('title')!r}", t["expr"])
                stats["panels"] += sum(1 for p in panels if p.get("type") != "row")
                for s in sorted(REQUIRED_DASHBOARD_SERIES - used):
                    self.p.add(where, f"no panel shows {s}")
        return stats

    # high availability ----------------------------------------------------------------------

    def check_ha(self) -> None:
        hpa_min = {
            h["spec"]["scaleTargetRef"]["name"]: h["spec"].get("minReplicas", 1)
            for h in self.by_kind["HorizontalPodAutoscaler"]
        }
        pdbs = self.by_kind["PodDisruptionBudget"]
        for d in self.by_kind["Deployment"]:
            name = d["metadata"]["name"]
            replicas = hpa_min.get(name, d["spec"].get("replicas", 1))
            if replicas < 2:
                self.p.add(
                    ref(d),
                    f"{replicas} replica(s): --ha wants 2+ (or an HPA with minReplicas >= 2)",
                )
            labels = d["spec"]["template"]["metadata"].get("labels") or {}
            if not any(label_selector_matches(p["spec"].get("selector"), labels) for p in pdbs):
                self.p.add(ref(d), "no PodDisruptionBudget covers it")
            if not d["spec"]["template"]["spec"].get("topologySpreadConstraints"):
                self.p.add(ref(d), "no topologySpreadConstraints: replicas may share a node")
        if "gateway" not in hpa_min:
            self.p.add("Deployment/gateway", "--ha wants a HorizontalPodAutoscaler on the gateway")
        for k in self.by_kind["Kafka"]:
            cfg = (k["spec"].get("kafka") or {}).get("config") or {}
            if (
                int(cfg.get("default.replication.factor", 1)) < 3
                or int(cfg.get("min.insync.replicas", 1)) < 2
            ):
                self.p.add(
                    ref(k),
                    "--ha wants default.replication.factor >= 3 and min.insync.replicas >= 2",
                )
        rf = self.config_value("QUNYUN_KAFKA_REPLICATION_FACTOR")
        if rf is not None and int(rf) < 3:
            self.p.add(
                "ConfigMap/qunyun-config",
                f"--ha wants QUNYUN_KAFKA_REPLICATION_FACTOR >= 3, not {rf}",
            )
        for c in self.by_kind["Cluster"]:
            if int((c.get("spec") or {}).get("instances", 1)) < 2:
                self.p.add(ref(c), "--ha wants at least 2 PostgreSQL instances")

    # ----------------------------------------------------------------------------------------

    def run(self) -> str:
        self.check_objects()
        schema_checked = self.check_schemas()
        self.check_workloads()
        self.check_services()
        self.check_ingresses()
        self.check_autoscaling()
        kafka = self.check_kafka()
        self.check_postgres()
        defined = series_from_observability(self.args.repo / "services/common/observability.py")
        mon = self.check_monitoring(defined)
        if self.args.ha:
            self.check_ha()
        for name in sorted(set(self.external) - self.external_used):
            self.p.add(
                f"{self.args.overlay_dir.name}/external-secrets.txt",
                f"{name} is listed but nothing in the render references it",
            )
        counts = collections.Counter(d.get("kind") for d in self.docs)
        schema = (
            f"{schema_checked} validated against Kubernetes {self.args.k8s_version}"
            if not self.args.no_schemas
            else "schemas skipped"
        )
        return (
            f"{len(self.docs)} objects ({counts['Deployment']} Deployments,"
            f" {counts['Service']} Services, {kafka.get('topics', 0)} topics,"
            f" {kafka.get('brokers', 0)} broker(s), {counts['Cluster']} Postgres clusters,"
            f" {mon['alerts']} alerts, {mon['panels']} panels);"
            f" {schema}{'; HA rules on' if self.args.ha else ''}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rendered", type=Path, help="output of kustomize build")
    ap.add_argument("--overlay-dir", type=Path, required=True, help="the overlay's directory")
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[2])
    ap.add_argument("--k8s-version", default="1.33.0", help="Kubernetes schema version")
    ap.add_argument(
        "--ha", action="store_true", help="also apply the production availability rules"
    )
    ap.add_argument("--no-schemas", action="store_true", help="skip the OpenAPI schema validation")
    args = ap.parse_args()
    name = args.overlay_dir.name
    try:
        docs = [d for d in yaml.safe_load_all(args.rendered.read_text()) if d]
        checker = Checker(docs, args)
        summary = checker.run()
        problems = checker.p.items
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
