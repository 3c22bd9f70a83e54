"""A process the crash test kills at random: starts N instances, then runs their jobs.

Usage: python crash_worker.py ENGINE_DB EFFECTS_DB INSTANCES

Each handler applies its side effect to EFFECTS_DB keyed by the idempotency key (INSERT OR
IGNORE), and counts every call, so the test can tell a repeated call from a repeated effect.
"""

from __future__ import annotations

import sqlite3
import sys
from datetime import timedelta
from typing import Any

from retailflow import Engine, HandlerContext, HandlerRegistry

TOPICS = (
    "test.big",
    "test.small",
    "test.a",
    "test.b",
    "test.express",
    "test.wrap",
    "test.standard",
)


def main(engine_db: str, effects_db: str, count: int) -> None:
    effects = sqlite3.connect(effects_db, isolation_level=None)
    effects.execute("CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY, topic TEXT)")
    effects.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT, topic TEXT)")
    handlers = HandlerRegistry()

    def make(topic: str) -> Any:
        def handler(context: HandlerContext) -> dict[str, bool]:
            effects.execute("INSERT INTO calls VALUES (?, ?)", (context.idempotency_key, topic))
            effects.execute(
                "INSERT OR IGNORE INTO effects VALUES (?, ?)", (context.idempotency_key, topic)
            )
            return {f"done_{topic.split('.')[1]}": True}

        return handler

    for topic in TOPICS:
        handlers.register(topic, make(topic))
    engine = Engine(f"sqlite:///{engine_db}", handlers=handlers, lease=timedelta(seconds=1))
    engine.deploy(sys.argv[4])
    started = {i.business_key for i in engine.instances()}
    for number in range(count):
        key = f"B-{number}"
        if key not in started:
            engine.start(
                "gateways",
                business_key=key,
                variables={
                    "amount": 50 + 100 * (number % 2),
                    "express": number % 3 == 0,
                    "gift_wrap": number % 4 == 0,
                },
            )
    while engine.run() or engine.jobs():
        pass
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
