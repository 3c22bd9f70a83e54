"""Group commits under races and failures: a refused step is taken back before what the
committed ones threw is delivered (nothing is written over another writer's change); a job no
task waits for is dropped for good (run() ends); groups lock in instance order; a group the
database aborts as a whole is committed a step at a time; a failed one gives its jobs back."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from retailflow import Engine, HandlerRegistry, HistoryKind, InstanceStatus, VirtualClock
from retailflow.model import (
    ConcurrentUpdateError,
    Job,
    JobKind,
    RetailflowError,
    StoreUnavailableError,
)
from retailflow.stores import Checkpoint, MemoryStore, Store
from scenario_kit import EngineFactory

# A's service task is followed by a throw of signal "go"; B forks to a service task and a catch
# of "go", joined before a user task.
THROWER_AND_CATCHER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="http://x">
  <bpmn:process id="thrower" isExecutable="true">
    <bpmn:startEvent id="ts"><bpmn:outgoing>t1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="t1" sourceRef="ts" targetRef="awork" />
    <bpmn:serviceTask id="awork">
      <bpmn:extensionElements><zeebe:taskDefinition type="a.work" /></bpmn:extensionElements>
      <bpmn:incoming>t1</bpmn:incoming><bpmn:outgoing>t2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="t2" sourceRef="awork" targetRef="throw" />
    <bpmn:intermediateThrowEvent id="throw">
      <bpmn:incoming>t2</bpmn:incoming><bpmn:outgoing>t3</bpmn:outgoing>
      <bpmn:signalEventDefinition signalRef="sig" />
    </bpmn:intermediateThrowEvent>
    <bpmn:sequenceFlow id="t3" sourceRef="throw" targetRef="te" />
    <bpmn:endEvent id="te"><bpmn:incoming>t3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
  <bpmn:process id="catcher" isExecutable="true">
    <bpmn:startEvent id="cs"><bpmn:outgoing>c1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="c1" sourceRef="cs" targetRef="fork" />
    <bpmn:parallelGateway id="fork">
      <bpmn:incoming>c1</bpmn:incoming><bpmn:outgoing>c2</bpmn:outgoing>
      <bpmn:outgoing>c3</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:sequenceFlow id="c2" sourceRef="fork" targetRef="bwork" />
    <bpmn:sequenceFlow id="c3" sourceRef="fork" targetRef="catch" />
    <bpmn:serviceTask id="bwork">
      <bpmn:extensionElements><zeebe:taskDefinition type="b.work" /></bpmn:extensionElements>
      <bpmn:incoming>c2</bpmn:incoming><bpmn:outgoing>c4</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:intermediateCatchEvent id="catch">
      <bpmn:incoming>c3</bpmn:incoming><bpmn:outgoing>c5</bpmn:outgoing>
      <bpmn:signalEventDefinition signalRef="sig" />
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="c4" sourceRef="bwork" targetRef="join" />
    <bpmn:sequenceFlow id="c5" sourceRef="catch" targetRef="join" />
    <bpmn:parallelGateway id="join">
      <bpmn:incoming>c4</bpmn:incoming><bpmn:incoming>c5</bpmn:incoming>
      <bpmn:outgoing>c6</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:sequenceFlow id="c6" sourceRef="join" targetRef="wait" />
    <bpmn:userTask id="wait"><bpmn:incoming>c6</bpmn:incoming><bpmn:outgoing>c7</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="c7" sourceRef="wait" targetRef="ce" />
    <bpmn:endEvent id="ce"><bpmn:incoming>c7</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
  <bpmn:signal id="sig" name="go" />
</bpmn:definitions>
"""

# Generous: the run takes well under a second; this only turns a hang into a failure.
RUN_DEADLINE_SECONDS = 60


def run_or_fail(engine: Engine, **kwargs: Any) -> int:
    """``engine.run()``, failing the test (and stopping the run) if it does not return."""
    stop = threading.Event()
    outcome: list[int | BaseException] = []

    def target() -> None:
        try:
            outcome.append(engine.run(stop=stop, **kwargs))
        except BaseException as error:  # handed to the test's thread
            outcome.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(RUN_DEADLINE_SECONDS)
    if thread.is_alive():
        stop.set()
        thread.join()
        pytest.fail(f"run() did not return within {RUN_DEADLINE_SECONDS}s")
    [result] = outcome
    if isinstance(result, BaseException):
        raise result
    return result


@pytest.mark.parametrize("claim_batch", [1, 10])
def test_a_signal_thrown_in_a_group_never_overwrites_another_writers_change(
    make_engine: EngineFactory,
    store_url: str | None,
    clock: VirtualClock,
    tmp_path: Path,
    claim_batch: int,
) -> None:
    calls = {"a.work": 0, "b.work": 0}
    catcher: dict[str, str] = {}
    handlers = HandlerRegistry()

    @handlers.handler("a.work")
    def a_work() -> dict[str, Any]:
        calls["a.work"] += 1
        return {}

    @handlers.handler("b.work")
    def b_work() -> dict[str, Any]:
        calls["b.work"] += 1
        if calls["b.work"] == 1:
            # An operator moves B on by one version while its handler runs: the step of B in
            # the group is refused, and assumed the very version the operator's change has.
            operator.set_variables(catcher["id"], {"operator_note": "keep me"})
        return {"b_result": calls["b.work"]}

    (tmp_path / "race.bpmn").write_text(THROWER_AND_CATCHER)
    engine = make_engine(handlers)
    operator = make_engine() if store_url is not None else Engine(store=engine.store, clock=clock)
    engine.deploy(tmp_path / "race.bpmn")
    engine.start("thrower", business_key="A")
    clock.advance(timedelta(seconds=1))
    catcher["id"] = engine.start("catcher", business_key="B").id
    clock.advance(timedelta(seconds=1))

    assert run_or_fail(engine, claim_batch=claim_batch) >= 2

    b = engine.instance(catcher["id"])
    assert b.variables["operator_note"] == "keep me"
    assert b.variables["b_result"] == calls["b.work"]
    completed = [
        event.element_id
        for event in engine.history(b.id)
        if event.kind == HistoryKind.ELEMENT_COMPLETED
    ]
    assert "bwork" in completed and "catch" in completed
    # B waits at its user task, with no job left over from the overwritten step.
    assert [task.element_id for task in engine.tasks(instance=b.id)] == ["wait"]
    assert engine.jobs() == []


APPROVAL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
    targetNamespace="http://x">
  <bpmn:process id="approval" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="approve" />
    <bpmn:userTask id="approve"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="e" />
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_job_no_task_waits_for_is_dropped_for_good_and_run_ends(
    make_engine: EngineFactory, clock: VirtualClock, tmp_path: Path
) -> None:
    (tmp_path / "approval.bpmn").write_text(APPROVAL)
    engine = make_engine()
    engine.deploy(tmp_path / "approval.bpmn")
    started = engine.start("approval", business_key="SO-1")
    # A job beside the instance's wait states that matches none of them, as a defect (a step
    # written over another writer's change) once left behind.
    store = engine.store
    instance, state, _ = store.load_state(started.id)
    orphan = Job("orphan", started.id, JobKind.SERVICE, "approve", clock.now(), topic="x")
    store.commit(
        Checkpoint(
            instance=replace(instance, version=instance.version + 1),
            state=state,
            expected_version=instance.version,
            jobs=[*store.list_jobs(instance_id=started.id), orphan],
            subscriptions=store.list_subscriptions(started.id),
            user_tasks=store.list_user_tasks(instance_id=started.id),
        )
    )

    assert run_or_fail(engine) == 1

    assert engine.jobs() == []
    assert [task.element_id for task in engine.tasks(instance=started.id)] == ["approve"]


PACKING = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="http://x">
  <bpmn:process id="packing" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="pack" />
    <bpmn:serviceTask id="pack">
      <bpmn:extensionElements><zeebe:taskDefinition type="warehouse.pack" />
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="pack" targetRef="e" />
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


class FailingGroupsStore(MemoryStore):
    """A store whose next group commits fail as a whole with the given errors (as a database
    does on a deadlock or an outage); records the instance order of every group."""

    def __init__(self, *failures: RetailflowError) -> None:
        super().__init__()
        self.failures = list(failures)
        self.groups: list[list[str]] = []

    def commit_many(self, checkpoints: Sequence[Checkpoint]) -> list[RetailflowError | None]:
        self.groups.append([checkpoint.instance.id for checkpoint in checkpoints])
        if self.failures:
            raise self.failures.pop(0)
        return super().commit_many(checkpoints)


def packing_engine(
    store: Store, clock: VirtualClock, tmp_path: Path, packed: list[str]
) -> tuple[Engine, list[str]]:
    """An engine on ``store`` with six orders started a second apart (so claimed in that
    order, whatever their ids); returns it and the orders' instance ids."""
    handlers = HandlerRegistry()

    @handlers.handler("warehouse.pack")
    def pack(order: str) -> dict[str, Any]:
        packed.append(order)
        return {"packed": True}

    (tmp_path / "packing.bpmn").write_text(PACKING)
    engine = Engine(store=store, clock=clock, handlers=handlers)
    engine.deploy(tmp_path / "packing.bpmn")
    ids = []
    for n in range(6):
        ids.append(engine.start("packing", variables={"order": f"SO-{n}"}).id)
        clock.advance(timedelta(seconds=1))
    return engine, ids


def test_a_group_is_committed_in_instance_order(clock: VirtualClock, tmp_path: Path) -> None:
    store = FailingGroupsStore()
    engine, ids = packing_engine(store, clock, tmp_path, [])

    assert run_or_fail(engine) == 6

    # Every worker locks the rows of a group in one order: groups never deadlock each other.
    assert store.groups == [sorted(ids)]


def test_a_group_the_database_aborts_as_a_whole_is_committed_a_step_at_a_time(
    clock: VirtualClock, tmp_path: Path
) -> None:
    store = FailingGroupsStore(ConcurrentUpdateError("deadlock detected"))
    packed: list[str] = []
    engine, ids = packing_engine(store, clock, tmp_path, packed)

    assert run_or_fail(engine) == 6

    assert sorted(packed) == [f"SO-{n}" for n in range(6)]
    assert [engine.instance(i).status for i in ids] == [InstanceStatus.COMPLETED] * 6
    assert engine.jobs() == []


def test_a_group_commit_that_fails_gives_its_jobs_back_at_once(
    clock: VirtualClock, tmp_path: Path
) -> None:
    store = FailingGroupsStore(StoreUnavailableError("the database is gone"))
    packed: list[str] = []
    engine, ids = packing_engine(store, clock, tmp_path, packed)

    with pytest.raises(StoreUnavailableError):
        run_or_fail(engine)

    # No job waits out its lease: the next run() takes them all again, at the same time.
    assert [job.lock_owner for job in engine.jobs()] == [None] * 6
    assert run_or_fail(engine) == 6
    assert [engine.instance(i).status for i in ids] == [InstanceStatus.COMPLETED] * 6
