"""Scaling and disruption: HPAs and PDBs that target what exists, and with --ha, the rules
that keep prod serving through a node drain or a lost zone.
"""

from __future__ import annotations

from .render import Render, label_selector_matches, ref


def check_autoscaling(r: Render) -> None:
    deployments = {d["metadata"]["name"]: d for d in r.by_kind["Deployment"]}
    for h in r.by_kind["HorizontalPodAutoscaler"]:
        where = ref(h)
        target = (h.get("spec") or {}).get("scaleTargetRef") or {}
        d = deployments.get(target.get("name", "")) if target.get("kind") == "Deployment" else None
        if d is None:
            r.p.add(where, f"scaleTargetRef {target} is not a rendered Deployment")
            continue
        if "replicas" in d["spec"]:
            r.p.add(
                where,
                f"{ref(d)} also sets spec.replicas: every apply would reset what "
                f"the HPA chose (drop it in the overlay)",
            )
        # The HPA scales on CPU utilisation, which is measured against the requests.
        if not all(
            "cpu" in ((c.get("resources") or {}).get("requests") or {})
            for c in d["spec"]["template"]["spec"]["containers"]
        ):
            r.p.add(where, "CPU utilisation needs CPU requests on every container of the target")
        spec = h["spec"]
        if spec.get("minReplicas", 1) > spec.get("maxReplicas", 0):
            r.p.add(where, "minReplicas exceeds maxReplicas")
    for pdb in r.by_kind["PodDisruptionBudget"]:
        if not r.pods_selected((pdb.get("spec") or {}).get("selector")):
            r.p.add(ref(pdb), "selector matches no Deployment's pods")


def check_ha(r: Render) -> None:
    hpa_min = {
        h["spec"]["scaleTargetRef"]["name"]: h["spec"].get("minReplicas", 1)
        for h in r.by_kind["HorizontalPodAutoscaler"]
    }
    pdbs = r.by_kind["PodDisruptionBudget"]
    for d in r.by_kind["Deployment"]:
        name = d["metadata"]["name"]
        replicas = hpa_min.get(name, d["spec"].get("replicas", 1))
        if replicas < 2:
            r.p.add(
                ref(d),
                f"{replicas} replica(s): --ha wants 2+ (or an HPA with minReplicas >= 2)",
            )
        labels = d["spec"]["template"]["metadata"].get("labels") or {}
        if not any(label_selector_matches(p["spec"].get("selector"), labels) for p in pdbs):
            r.p.add(ref(d), "no PodDisruptionBudget covers it")
        if not d["spec"]["template"]["spec"].get("topologySpreadConstraints"):
            r.p.add(ref(d), "no topologySpreadConstraints: replicas may share a node")
    if "gateway" not in hpa_min:
        r.p.add("Deployment/gateway", "--ha wants a HorizontalPodAutoscaler on the gateway")
    for k in r.by_kind["Kafka"]:
        cfg = (k["spec"].get("kafka") or {}).get("config") or {}
        if (
            int(cfg.get("default.replication.factor", 1)) < 3
            or int(cfg.get("min.insync.replicas", 1)) < 2
        ):
            r.p.add(
                ref(k),
                "--ha wants default.replication.factor >= 3 and min.insync.replicas >= 2",
            )
    rf = r.config_value("QUNYUN_KAFKA_REPLICATION_FACTOR")
    if rf is not None and int(rf) < 3:
        r.p.add(
            "ConfigMap/qunyun-config",
            f"--ha wants QUNYUN_KAFKA_REPLICATION_FACTOR >= 3, not {rf}",
        )
    for c in r.by_kind["Cluster"]:
        if int((c.get("spec") or {}).get("instances", 1)) < 2:
            r.p.add(ref(c), "--ha wants at least 2 PostgreSQL instances")
