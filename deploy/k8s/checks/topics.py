"""KafkaTopics are exactly the topics of services/common/contracts/topics.py plus their
dead-letter topics, sized as the processes' own settings (QUNYUN_KAFKA_*) say.

A process also creates a missing topic itself with those settings (services/common/runtime.py);
a KafkaTopic that disagrees would make a topic's shape depend on who created it first.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from .render import Render, ref

CONTRACTS = "services/common/contracts/topics.py"


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


def check_topics(r: Render, kafkas: dict[str, Any], brokers: dict[str, int]) -> int:
    """Returns the number of KafkaTopics, for the summary line."""
    topics = r.by_kind["KafkaTopic"]
    wanted = set()
    for t in topics_from_contracts(r.args.repo / CONTRACTS):
        wanted |= {t, f"{t}.dlq"}
    have = {(t.get("spec") or {}).get("topicName") or t["metadata"]["name"] for t in topics}
    for t in sorted(wanted - have):
        r.p.add("KafkaTopic", f"{t} is in {CONTRACTS} but has no KafkaTopic")
    for t in sorted(have - wanted):
        r.p.add("KafkaTopic", f"{t} is not a topic of {CONTRACTS}")
    partitions = r.config_value("QUNYUN_KAFKA_PARTITIONS")
    rf = r.config_value("QUNYUN_KAFKA_REPLICATION_FACTOR")
    for topic in topics:
        where = ref(topic)
        spec = topic.get("spec") or {}
        cluster = str((topic["metadata"].get("labels") or {}).get("strimzi.io/cluster", ""))
        if cluster not in kafkas:
            r.p.add(where, f"strimzi.io/cluster {cluster!r} is not a rendered Kafka")
            continue
        if str(spec.get("partitions")) != str(partitions):
            r.p.add(
                where,
                f"partitions {spec.get('partitions')} != QUNYUN_KAFKA_PARTITIONS {partitions}",
            )
        if str(spec.get("replicas")) != str(rf):
            r.p.add(
                where,
                f"replicas {spec.get('replicas')} != QUNYUN_KAFKA_REPLICATION_FACTOR {rf}",
            )
        replicas = int(spec.get("replicas") or 0)
        if replicas > brokers[cluster]:
            r.p.add(where, f"replicas {replicas} exceeds {brokers[cluster]} brokers")
        isr = int((spec.get("config") or {}).get("min.insync.replicas", 1))
        if replicas > 1 and isr >= replicas:
            r.p.add(
                where,
                f"min.insync.replicas {isr} leaves no broker to lose at replicas {replicas}",
            )
        if isr > replicas:
            r.p.add(
                where,
                f"min.insync.replicas {isr} exceeds replicas {replicas}: acks=all always fails",
            )
    return len(topics)
