"""The CloudNativePG Clusters: one database per process, named as the process expects, with
enough connections for every pod that may run at once.
"""

from __future__ import annotations

from .render import Render, ref

PROCESSES = ("gateway", "members", "content", "events", "metrics")
# Connections one replica may hold: SQLAlchemy pool_size 10 + max_overflow 10
# (services/common/db.py), and what PostgreSQL keeps for superusers.
POOL_CONNECTIONS_PER_REPLICA = 20
PG_RESERVED_CONNECTIONS = 3


def check_postgres(r: Render) -> None:
    clusters = {c["metadata"]["name"]: c for c in r.by_kind["Cluster"]}
    for c in clusters.values():
        spec = c.get("spec") or {}
        if not isinstance(spec.get("instances"), int) or spec["instances"] < 1:
            r.p.add(ref(c), "spec.instances must be a positive integer")
        if not (spec.get("storage") or {}).get("size"):
            r.p.add(ref(c), "spec.storage.size is missing")
        if not (spec.get("resources") or {}).get("limits"):
            r.p.add(ref(c), "resources.limits missing")
        image = str(spec.get("imageName") or "")
        if image and (":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")):
            r.p.add(ref(c), f"imageName {image!r} is not pinned")
    # Each process's Deployment reads <process>-db-app; that Cluster must bootstrap
    # qunyun_<process>.
    for d in r.by_kind["Deployment"]:
        name = d["metadata"]["name"]
        secret = f"{name}-db-app"
        uses = any(
            (e.get("valueFrom") or {}).get("secretKeyRef", {}).get("name") == secret
            for c in d["spec"]["template"]["spec"]["containers"]
            for e in c.get("env") or []
        )
        if name in PROCESSES and not uses:
            r.p.add(ref(d), f"does not read its database credentials from {secret}")
        cluster = clusters.get(f"{name}-db")
        if uses and cluster is not None:
            db = ((cluster["spec"].get("bootstrap") or {}).get("initdb") or {}).get("database")
            if db != f"qunyun_{name}":
                r.p.add(ref(cluster), f"bootstraps database {db!r}, expected 'qunyun_{name}'")
            # Enough connections for the most replicas the Deployment can run at once.
            hpa_max = [
                h["spec"].get("maxReplicas", 1)
                for h in r.by_kind["HorizontalPodAutoscaler"]
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
                r.p.add(
                    ref(cluster),
                    f"max_connections {have} < {wanted} that {replicas} pods of {name} "
                    f"(rollout surge included) may open",
                )
