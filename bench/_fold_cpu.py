"""The members fold's own cost, Kafka left out: `python -m bench._fold_cpu [messages] [prof]`.

Seeds a members database as `bench.chat` does, turns realistic messages (5 % ads, 20 % new
senders) into records, and folds them through `BatchConsumer.handle_batch` in batches of 500
(the first batch warms up and is not counted). Prints messages per CPU-second of this process
and statements per message; `prof` adds a cProfile of CPU time. Not run by `make bench`
(no `benchmark`): a tool for finding where the fold's CPU goes on a loaded machine.
"""

import cProfile
import pstats
import random
import sys
import time
from typing import Any

import sqlalchemy as sa

from bench.chat import _messages, _record, _seed
from deploy.local.postgres import throwaway_server
from services.common.batches import BatchConsumer
from services.common.kafka import IncomingRecord
from services.members.app import SPEC

BATCH = 500


class _NoDeadLetters:
    def publish(self, records: list[Any]) -> None:
        raise AssertionError("nothing here should be dead-lettered")


def main(count: int, profile: bool) -> None:
    with throwaway_server("qunyun-bench-pg-") as url:
        engine, group = _seed(url)
        statements = [0]

        def counted(*_: object, **__: object) -> None:
            statements[0] += 1

        sa.event.listen(engine, "before_cursor_execute", counted)
        consumer = BatchConsumer(
            engine,
            name="members",
            handlers=SPEC.handlers,
            batch_handlers=SPEC.batch_handlers,
            dead_letters=_NoDeadLetters(),
        )
        records = []
        for n, data in enumerate(_messages(group, count + BATCH, random.Random(count), tag="c")):
            r = _record(data)
            records.append(IncomingRecord("chat", 0, n, r.key.encode(), r.value, r.headers))
        consumer.handle_batch(records[:BATCH])
        statements[0] = 0
        profiler = cProfile.Profile(time.process_time) if profile else None
        cpu = time.process_time()
        if profiler:
            profiler.enable()
        for start in range(BATCH, len(records), BATCH):
            consumer.handle_batch(records[start : start + BATCH])
        if profiler:
            profiler.disable()
        cpu = time.process_time() - cpu
        print(
            f"{count} messages: {count / cpu:,.0f} per CPU-second, "
            f"{statements[0] / count:.3f} statements a message"
        )
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(50)
        engine.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000, "prof" in sys.argv[2:])
