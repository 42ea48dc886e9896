"""Scraping, alerts and the dashboard watch series the processes really export.

Expressions are held against the metrics declared in services/common/observability.py (read
as text, nothing imported), so renaming a metric there without updating the alerts fails
here instead of leaving an alert that can never fire.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .render import Render, label_selector_matches, ref

OBSERVABILITY = "services/common/observability.py"
# Modules declaring more series: one process's own (the webhook dispatcher, the metrics
# service) and the kit's batch consumer and periodic jobs; their series are as real as the
# kit's.
MORE_SERIES = (
    "gateway/webhooks/metrics.py",
    "services/common/batch_folds.py",
    "services/common/periodic.py",
    "services/metrics/telemetry.py",
)
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


def check_monitoring(r: Render) -> dict[str, int]:
    """Returns the alert and panel counts for the summary line."""
    defined = series_from_observability(r.args.repo / OBSERVABILITY)
    for module in MORE_SERIES:
        defined |= series_from_observability(r.args.repo / module)
    stats = {"alerts": 0, "panels": 0}
    check_service_monitors(r)

    def check_expr(where: str, expr: str) -> set[str]:
        if not balanced(expr):
            r.p.add(where, "unbalanced brackets in expression")
        used = series_in_expr(expr)
        for s in sorted(used):
            if s.startswith("qunyun_") and s not in defined:
                r.p.add(where, f"{s} is not a series of {OBSERVABILITY} or {MORE_SERIES}")
            elif not s.startswith("qunyun_") and s not in NON_QUNYUN_SERIES_ALLOWED:
                r.p.add(where, f"unexpected series {s!r}")
        return used

    rules = r.by_kind["PrometheusRule"]
    if rules:
        used_by_rules: set[str] = set()
        names: set[str] = set()
        for pr in rules:
            for g in (pr.get("spec") or {}).get("groups") or []:
                for rule in g.get("rules") or []:
                    where = f"{ref(pr)} {rule.get('alert') or rule.get('record')}"
                    if "alert" in rule:
                        stats["alerts"] += 1
                        if rule["alert"] in names:
                            r.p.add(where, "alert defined twice")
                        names.add(rule["alert"])
                        if (rule.get("labels") or {}).get("severity") not in (
                            "critical",
                            "warning",
                            "info",
                        ):
                            r.p.add(where, "labels.severity must be critical, warning or info")
                        if not (rule.get("annotations") or {}).get("summary"):
                            r.p.add(where, "annotations.summary is missing")
                        if "for" in rule and not re.fullmatch(r"(\d+[smhdwy])+", str(rule["for"])):
                            r.p.add(where, f"for: {rule['for']!r} is not a duration")
                    if not str(rule.get("expr") or "").strip():
                        r.p.add(where, "expr is empty")
                        continue
                    used_by_rules |= check_expr(where, str(rule["expr"]))
        for s in sorted(REQUIRED_RULE_SERIES - used_by_rules):
            r.p.add("PrometheusRule", f"no alert watches {s}")

    for cm in r.configmaps.values():
        if (cm["metadata"].get("labels") or {}).get("grafana_dashboard") is None:
            continue
        # The Grafana sidecar only loads ConfigMaps whose label has exactly this value.
        if cm["metadata"]["labels"]["grafana_dashboard"] != "1":
            r.p.add(ref(cm), 'label grafana_dashboard must be "1"')
        for fname, body in (cm.get("data") or {}).items():
            where = f"{ref(cm)} {fname}"
            try:
                dash = json.loads(body)
            except ValueError as e:
                r.p.add(where, f"not JSON: {e}")
                continue
            panels = list(dash.get("panels") or [])
            for p in list(panels):
                panels.extend(p.get("panels") or [])  # panels folded inside a row
            ids = [p.get("id") for p in panels]
            if len(ids) != len(set(ids)):
                r.p.add(where, "panel ids repeat")
            used: set[str] = set()
            for p in panels:
                for t in p.get("targets") or []:
                    if t.get("expr"):
                        used |= check_expr(f"{where} panel {p.get('title')!r}", t["expr"])
            stats["panels"] += sum(1 for p in panels if p.get("type") != "row")
            for s in sorted(REQUIRED_DASHBOARD_SERIES - used):
                r.p.add(where, f"no panel shows {s}")
    return stats


def check_service_monitors(r: Render) -> None:
    """Every Qunyun Service is scraped, on a port it has, at /metrics."""
    app_services = [
        s
        for s in r.by_kind["Service"]
        if (s["metadata"].get("labels") or {}).get("app.kubernetes.io/part-of") == "qunyun"
        and r.pods_selected(s["spec"].get("selector"))
    ]
    monitors = r.by_kind["ServiceMonitor"]
    if not monitors:
        return
    for svc in app_services:
        labels = svc["metadata"].get("labels") or {}
        picked = [
            m
            for m in monitors
            if label_selector_matches((m.get("spec") or {}).get("selector"), labels)
        ]
        if not picked:
            r.p.add(ref(svc), "no ServiceMonitor selects it: its /metrics would not be scraped")
        for m in picked:
            ports = {p.get("name") for p in svc["spec"].get("ports") or []}
            for ep in m["spec"].get("endpoints") or []:
                if ep.get("port") not in ports:
                    r.p.add(ref(m), f"endpoint port {ep.get('port')!r} is not a port of {ref(svc)}")
                if ep.get("path", "/metrics") != "/metrics":
                    r.p.add(ref(m), "the processes serve metrics at /metrics")
