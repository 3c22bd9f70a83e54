"""Scenario shortcuts: start, complete a person's task, deliver a message, then let the engine
run until it waits again, so a test reads as the story it tells::

    order = start("order_fulfilment", business_key="SO-1", variables=ORDER)
    correlate("payment_received", key="SO-1")
    complete(order, {"packed_by": "ana"})
    assert_that(order).is_ended_at("order_shipped")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retailflow.engine import Engine
from retailflow.model import Instance, UserTask
from retailflow.testing.binding import bound_engine
from retailflow.testing.whereabouts import Whereabouts


def start(
    process_id: str,
    *,
    business_key: str | None = None,
    variables: Mapping[str, Any] | None = None,
    engine: Engine | None = None,
) -> Instance:
    """Start the process and run its jobs until it waits; returns the instance as it is then."""
    engine = bound_engine(engine)
    instance = engine.start(process_id, business_key=business_key, variables=variables)
    engine.run()
    return engine.instance(instance)


def complete(
    task: UserTask | Instance | str,
    variables: Mapping[str, Any] | None = None,
    *,
    at: str | None = None,
    engine: Engine | None = None,
) -> Instance:
    """Complete a user task with what the person entered, then run until the instance waits.

    ``task`` is the ``UserTask``, or an instance (object or id) whose one open user task (the one
    at element ``at`` when several are open) is meant."""
    __tracebackhide__ = True
    engine = bound_engine(engine)
    if not isinstance(task, UserTask):
        task = _open_task(engine, task, at)
    instance = engine.complete_task(task, variables)
    engine.run()
    return engine.instance(instance)


def correlate(
    message: str,
    *,
    key: str | None = None,
    variables: Mapping[str, Any] | None = None,
    engine: Engine | None = None,
) -> Instance | None:
    """Deliver a message (see ``Engine.correlate``), then run until the instance waits."""
    engine = bound_engine(engine)
    instance = engine.correlate(message, key=key, variables=variables)
    engine.run()
    return None if instance is None else engine.instance(instance)


def _open_task(engine: Engine, instance: Instance | str, at: str | None) -> UserTask:
    __tracebackhide__ = True
    whereabouts = Whereabouts.read(engine, instance)
    tasks = [task for task in whereabouts.user_tasks if at is None or task.element_id == at]
    if len(tasks) != 1:
        where = f" at {at!r}" if at else ""
        hint = " (pass at=... to choose one)" if len(tasks) > 1 else ""
        raise AssertionError(
            f"expected one open user task{where}, found {len(tasks)}{hint}\n"
            f"{whereabouts.describe()}"
        )
    return tasks[0]
