"""The Kafka broker a benchmark runs against: `KAFKA_BOOTSTRAP_SERVERS` if set (a broker
already running), else one started for the run in a temporary folder and stopped after it."""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from deploy.local.kafka import KafkaBroker
from deploy.local.processes import free_port


@contextlib.contextmanager
def running_broker() -> Iterator[str]:
    """The bootstrap servers of the broker to use, for as long as the block runs."""
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield servers
        return
    with tempfile.TemporaryDirectory(prefix="qunyun-bench-kafka-") as folder:
        broker = KafkaBroker(Path(folder), port=free_port(), controller_port=free_port())
        broker.start()
        try:
            yield broker.bootstrap_servers
        finally:
            broker.stop()
