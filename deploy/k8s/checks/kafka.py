"""The Strimzi Kafka cluster: node pools with both KRaft roles, replication settings the
broker count can meet, and a bootstrap address the processes can actually use.
"""

from __future__ import annotations

import collections
from typing import Any

from . import topics
from .render import Render, ref


def check_kafka(r: Render) -> dict[str, int]:
    """Returns the broker and topic counts for the summary line (none without a Kafka)."""
    stats: dict[str, int] = {}
    kafkas = {k["metadata"]["name"]: k for k in r.by_kind["Kafka"]}
    pools = r.by_kind["KafkaNodePool"]
    if not kafkas:
        if r.by_kind["KafkaTopic"] or pools:
            r.p.add("Kafka", "KafkaTopic/KafkaNodePool objects without a Kafka cluster")
        return stats
    brokers: dict[str, int] = collections.Counter()
    controllers: dict[str, int] = collections.Counter()
    for pool in pools:
        cluster = str((pool["metadata"].get("labels") or {}).get("strimzi.io/cluster", ""))
        if cluster not in kafkas:
            r.p.add(ref(pool), f"strimzi.io/cluster {cluster!r} is not a rendered Kafka")
            continue
        roles = pool["spec"].get("roles") or []
        if "broker" in roles:
            brokers[cluster] += int(pool["spec"].get("replicas", 0))
        if "controller" in roles:
            controllers[cluster] += int(pool["spec"].get("replicas", 0))
        if not (pool["spec"].get("resources") or {}).get("limits"):
            r.p.add(ref(pool), "resources.limits missing")
    for name, k in kafkas.items():
        if brokers[name] < 1 or controllers[name] < 1:
            r.p.add(f"Kafka/{name}", "needs node pools with broker and controller roles")
        # KRaft needs a majority of controllers: an even count adds no fault tolerance.
        if controllers[name] % 2 == 0:
            r.p.add(f"Kafka/{name}", f"{controllers[name]} KRaft controllers: use an odd number")
        cfg = (k["spec"].get("kafka") or {}).get("config") or {}
        for key in (
            "offsets.topic.replication.factor",
            "transaction.state.log.replication.factor",
            "default.replication.factor",
        ):
            if int(cfg.get(key, 1)) > brokers[name]:
                r.p.add(f"Kafka/{name}", f"{key}={cfg.get(key)} exceeds {brokers[name]} brokers")
        if int(cfg.get("min.insync.replicas", 1)) > int(cfg.get("default.replication.factor", 1)):
            r.p.add(f"Kafka/{name}", "min.insync.replicas exceeds default.replication.factor")
    stats["brokers"] = max(brokers.values() or [0])
    check_bootstrap(r, kafkas)
    stats["topics"] = topics.check_topics(r, kafkas, brokers)
    return stats


def check_bootstrap(r: Render, kafkas: dict[str, dict[str, Any]]) -> None:
    # The processes reach Kafka through QUNYUN_KAFKA_BOOTSTRAP_SERVERS and speak neither TLS
    # nor SASL, so it must name a plain internal listener.
    bootstrap = r.config_value("QUNYUN_KAFKA_BOOTSTRAP_SERVERS")
    plain = {
        f"{n}-kafka-bootstrap:{lst.get('port')}"
        for n, k in kafkas.items()
        for lst in (k["spec"].get("kafka") or {}).get("listeners") or []
        if lst.get("type") == "internal" and not lst.get("tls") and not lst.get("authentication")
    }
    if bootstrap not in plain:
        r.p.add(
            "ConfigMap/qunyun-config",
            f"QUNYUN_KAFKA_BOOTSTRAP_SERVERS={bootstrap!r} is not a "
            f"plain internal listener of a rendered Kafka {sorted(plain)}",
        )
