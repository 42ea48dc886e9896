"""A real single-node Apache Kafka (KRaft) broker from the jars Maven resolved."""

import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.processes import port_open, spawn, stop, wait_until

REPO = Path(__file__).resolve().parents[2]
KAFKA_LIBS = REPO / ".cache" / "kafka-libs"

SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={log_dir}
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Topics are created by the platform with the partition count it is configured for.
auto.create.topics.enable=false
num.partitions=3
"""

LOG4J2 = """\
Configuration:
  Appenders:
    Console: {name: STDOUT, PatternLayout: {Pattern: "[%d] %p %m (%c)%n"}}
  Loggers:
    Root: {level: WARN, AppenderRef: [{ref: STDOUT}]}
    Logger: [{name: kafka.server.KafkaRaftServer, level: INFO}, {name: kafka.Kafka, level: INFO}]
"""


@dataclass
class KafkaBroker:
    data_dir: Path
    port: int = 19092
    controller_port: int = 19093
    heap: str = "512m"
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log_offset: int = field(default=0, init=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    def _java(self, *args: str) -> list[str]:
        if not any(KAFKA_LIBS.glob("kafka_2.13-*.jar")):
            raise RuntimeError(f"Kafka jars missing in {KAFKA_LIBS}; run `make deps` (Maven) first")
        return ["java", "-cp", f"{KAFKA_LIBS}/*", *args]

    def start(self, *, timeout: float = 90) -> None:
        if port_open(self.port) or port_open(self.controller_port):
            raise RuntimeError(
                f"port {self.port} or {self.controller_port} is taken; "
                "is another broker running? Set KAFKA_BOOTSTRAP_SERVERS to use it."
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        props = self.data_dir / "server.properties"
        props.write_text(
            SERVER_PROPERTIES.format(
                port=self.port, controller_port=self.controller_port, log_dir=self.data_dir / "logs"
            )
        )
        (self.data_dir / "log4j2.yaml").write_text(LOG4J2)
        if not (self.data_dir / "logs" / "meta.properties").exists():
            subprocess.run(
                self._java(
                    "kafka.tools.StorageTool", "format", "-t", str(uuid.uuid4()), "-c", str(props)
                ),
                check=True,
                capture_output=True,
            )
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process = spawn(
            [
                "java",
                f"-Xmx{self.heap}",
                f"-Xms{self.heap}",
                "-XX:+UseG1GC",
                "-XX:TieredStopAtLevel=1",
                f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.yaml'}",
                *self._java("kafka.Kafka", str(props))[1:],
            ],
            log_path=self.log_path,
        )
        wait_until(
            self._started,
            timeout=timeout,
            what="Kafka broker",
            process=self.process,
            log_path=self.log_path,
        )

    def _started(self) -> bool:
        if not port_open(self.port):
            return False
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            return b"Kafka Server started" in log.read()

    def stop(self) -> None:
        stop(self.process, grace_seconds=20)
        self.process = None
