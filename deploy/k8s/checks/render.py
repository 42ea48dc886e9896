"""The rendered overlay, indexed once, and the problem list every check appends to."""

from __future__ import annotations

import argparse
import collections
from typing import Any

from .references import read_external_secrets

NAMESPACE = "qunyun"
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def ref(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


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


class Render:
    """One overlay's objects by kind and name, shared by the checks."""

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
        # Filled in as references are resolved, so that unused lines can be reported last.
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

    def pods_selected(self, selector: dict[str, Any] | None) -> list[dict[str, Any]]:
        return [
            w
            for w in self.workloads
            if label_selector_matches(
                selector,
                ((w["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {},
            )
        ]

    def config_value(self, key: str) -> str | None:
        cm = self.configmaps.get("qunyun-config")
        return None if cm is None else (cm.get("data") or {}).get(key)
