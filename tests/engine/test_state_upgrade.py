"""Instances stored by the release before state format 3 continue on today's engine.

``tests/fixtures/states/release_states.db`` was written by that release
(``make_release_states.py`` beside it): each instance waits at a different kind of wait state,
some with variables of every type the variable codec knows.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from retailflow import Engine, ExecutionError, Instance, InstanceStatus, VirtualClock
from scenario_kit import FIXTURES, Recorder, passed

_STATES = "SELECT state FROM instances"
TYPED = {
    "price": Decimal("12.50"),
    "due": date(2030, 2, 1),
    "placed_at": datetime(2030, 1, 1, 8, 30, tzinfo=UTC),
    "grace": timedelta(days=3),
    "big": 2**70,
    "ratio": 1.5,
    "tags": ["a", None, {"nested": True}],
}


@pytest.fixture
def recorder() -> Recorder:
    recorder = Recorder()
    recorder.add("orders.ship", {"tracking_number": "TRK-1"})
    for topic in ["crm.notify_customer", "test.remind", "test.refund", "test.charge", "test.note"]:
        recorder.add(topic)
    return recorder


@pytest.fixture
def engine(tmp_path: Path, recorder: Recorder) -> Engine:
    database = tmp_path / "release.db"
    shutil.copy(FIXTURES / "states" / "release_states.db", database)
    with closing(sqlite3.connect(database)) as connection:
        formats = {orjson.loads(state)["format"] for (state,) in connection.execute(_STATES)}
    assert formats == {"retailflow-state/2"}
    clock = VirtualClock(datetime(2030, 1, 1, tzinfo=UTC))
    return Engine(f"sqlite:///{database}", handlers=recorder.registry, clock=clock)


def topics_of(recorder: Recorder, instance: Instance) -> list[str]:
    """The topics one instance's jobs called: ``run()`` runs every instance's due jobs."""
    return [topic for topic, _, context in recorder.calls if context.instance_id == instance.id]


def stored(engine: Engine, business_key: str) -> Instance:
    [instance] = [i for i in engine.instances() if i.business_key == business_key]
    assert instance.status == InstanceStatus.RUNNING
    return instance


def test_an_order_waiting_for_its_payment_is_paid_packed_and_shipped(
    engine: Engine, recorder: Recorder
) -> None:
    order = stored(engine, "order")
    engine.correlate("payment_received", key="SO-1", variables={"paid": True})
    engine.run()
    [task] = engine.tasks(instance=order.id)
    engine.complete_task(task.id, {"packed_by": "ana"})
    engine.run()
    finished = engine.instance(order.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert {name: finished.variables[name] for name in TYPED} == TYPED
    assert type(finished.variables["ratio"]) is float
    assert finished.variables["stock_reserved"] is True
    assert topics_of(recorder, order) == ["orders.ship", "crm.notify_customer"]
    assert passed(engine, order.id)[-1] == "order_shipped"


def test_multi_instance_approvals_continue_with_the_next_approver(engine: Engine) -> None:
    instance = stored(engine, "multi")
    for approver in ("kim", "lee"):
        [task] = engine.tasks(instance=instance.id)
        assert (task.element_id, task.assignee) == ("approve_each", approver)
        engine.complete_task(task.id, {"approved": True})
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED


def test_a_job_with_a_message_boundary_takes_the_message_and_runs(
    engine: Engine, recorder: Recorder
) -> None:
    instance = stored(engine, "boundary")
    engine.correlate("customer_note", key="SO-9", variables={"note": "leave at door"})
    engine.run()
    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert sorted(topics_of(recorder, instance)) == ["test.charge", "test.note"]
    assert {name: finished.variables[name] for name in TYPED} == TYPED


def test_a_cycle_timer_on_a_user_task_fires_and_the_task_completes(
    engine: Engine, recorder: Recorder
) -> None:
    instance = stored(engine, "cycle")
    assert isinstance(engine.clock, VirtualClock)
    engine.clock.advance(minutes=10)
    engine.run()
    assert topics_of(recorder, instance) == ["test.remind"]
    [task] = engine.tasks(instance=instance.id)
    engine.complete_task(task.id)
    engine.run()
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED


def test_an_event_sub_process_waiting_for_its_message_cancels_the_order(
    engine: Engine, recorder: Recorder
) -> None:
    instance = stored(engine, "event_sub")
    engine.correlate("cancel_order", key="SO-3")
    engine.run()
    assert topics_of(recorder, instance) == ["test.refund"]
    assert engine.tasks(instance=instance.id) == []
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED


def test_a_state_a_newer_retailflow_wrote_is_refused_naming_the_instance_and_what_to_do(
    tmp_path: Path, recorder: Recorder
) -> None:
    database = tmp_path / "newer.db"
    shutil.copy(FIXTURES / "states" / "release_states.db", database)
    with closing(sqlite3.connect(database)) as connection, connection:
        (instance_id, state) = connection.execute(
            "SELECT id, state FROM instances WHERE business_key = 'order'"
        ).fetchone()
        newer = {**orjson.loads(state), "format": "retailflow-state/9"}
        connection.execute(
            "UPDATE instances SET state = ? WHERE id = ?", (orjson.dumps(newer), instance_id)
        )
    engine = Engine(f"sqlite:///{database}", handlers=recorder.registry)

    with pytest.raises(ExecutionError) as refused:
        engine.correlate("payment_received", key="SO-1", variables={"paid": True})

    message = str(refused.value)
    assert instance_id in message
    assert "'retailflow-state/9'" in message and "a newer retailflow wrote it" in message
    assert "does not match" not in message
