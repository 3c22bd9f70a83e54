"""Handlers for ``order_pipeline.bpmn`` that record their side effects, for the worker tests.

``registry`` is what ``retailflow worker --handlers pipeline_handlers:registry`` loads. Each
call is counted in ``calls``, with the worker process that made it; its effect goes to
``effects`` keyed by the idempotency key (``ON CONFLICT DO NOTHING``), both in the database at
``$PIPELINE_EFFECTS_URL``, so a test can tell a repeated call (allowed: handlers run at least
once) from a repeated effect (never).
``$PIPELINE_HANDLER_DELAY`` (seconds) slows each call, so that a kill lands inside a handler.
"""

from __future__ import annotations

import os
import time
from functools import cache

from sqlalchemy import Engine, create_engine, text

from retailflow import HandlerContext, HandlerRegistry

TOPICS = (
    "orders.validate",
    "inventory.reserve",
    "payment.capture",
    "orders.ship",
    "crm.notify_customer",
)
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS effects (key VARCHAR(300) PRIMARY KEY, topic VARCHAR(50))",
    "CREATE TABLE IF NOT EXISTS calls (key VARCHAR(300), topic VARCHAR(50), worker INTEGER)",
)

registry = HandlerRegistry()


@cache
def effects_database() -> Engine:
    return create_engine(os.environ["PIPELINE_EFFECTS_URL"], pool_pre_ping=True)


def create_effect_tables(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in SCHEMA:
            conn.execute(text(statement))
    engine.dispose()


def _record(context: HandlerContext) -> dict[str, bool]:
    delay = float(os.environ.get("PIPELINE_HANDLER_DELAY", "0"))
    if delay:
        time.sleep(delay)
    with effects_database().begin() as conn:
        conn.execute(
            text("INSERT INTO calls VALUES (:key, :topic, :worker)"),
            {"key": context.idempotency_key, "topic": context.topic, "worker": os.getpid()},
        )
        conn.execute(
            text("INSERT INTO effects VALUES (:key, :topic) ON CONFLICT DO NOTHING"),
            {"key": context.idempotency_key, "topic": context.topic},
        )
    return {f"{context.topic.replace('.', '_')}_done": True}


for _topic in TOPICS:
    registry.register(_topic, _record)
