"""Chained steps on the memory store: inside run() an instance's later steps merge into the one
waiting for the group commit (one checkpoint and one state dump per instance per flush),
storing what a commit per step would have stored; a failure mid-chain never stores a
half-advanced run; database stores keep committing every wait state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from retailflow import Engine, HandlerRegistry, HistoryKind, InstanceStatus, VirtualClock
from retailflow.engine.group_commit import GroupCommit
from retailflow.model import (
    BufferedMessage,
    ExecutionError,
    HistoryEvent,
    Incident,
    Instance,
    Job,
    JobKind,
    RetailflowError,
)
from retailflow.stores import Checkpoint, MemoryStore, SqlStore, Store


def _service(element: str, incoming: str, outgoing: str) -> str:
    return f"""
    <bpmn:serviceTask id="{element}">
      <bpmn:extensionElements><zeebe:taskDefinition type="{element}" /></bpmn:extensionElements>
      <bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing>
    </bpmn:serviceTask>"""


def _definitions(body: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="http://x">
{body}
  <bpmn:signal id="sig" name="go" />
</bpmn:definitions>
"""


# pick -> pack -> label, then a clerk's review.
FULFILMENT = _definitions(f"""
  <bpmn:process id="fulfilment" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="pick" />
    {_service("pick", "f1", "f2")}
    <bpmn:sequenceFlow id="f2" sourceRef="pick" targetRef="pack" />
    {_service("pack", "f2", "f3")}
    <bpmn:sequenceFlow id="f3" sourceRef="pack" targetRef="label" />
    {_service("label", "f3", "f4")}
    <bpmn:sequenceFlow id="f4" sourceRef="label" targetRef="review" />
    <bpmn:userTask id="review"><bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f5" sourceRef="review" targetRef="e" />
    <bpmn:endEvent id="e"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""")

# pick -> pack, then a gateway that routes on "carrier": no route matches when pack leaves none.
ROUTING = _definitions(f"""
  <bpmn:process id="routing" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="pick" />
    {_service("pick", "f1", "f2")}
    <bpmn:sequenceFlow id="f2" sourceRef="pick" targetRef="pack" />
    {_service("pack", "f2", "f3")}
    <bpmn:sequenceFlow id="f3" sourceRef="pack" targetRef="route" />
    <bpmn:exclusiveGateway id="route">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>road</bpmn:outgoing>
      <bpmn:outgoing>air</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="road" sourceRef="route" targetRef="e">
      <bpmn:conditionExpression>=carrier = "road"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="air" sourceRef="route" targetRef="e">
      <bpmn:conditionExpression>=carrier = "air"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:endEvent id="e"><bpmn:incoming>road</bpmn:incoming><bpmn:incoming>air</bpmn:incoming>
    </bpmn:endEvent>
  </bpmn:process>""")

# pick -> pack beside a clerk's approval, joined.
PARALLEL = _definitions(f"""
  <bpmn:process id="parallel" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="split" />
    <bpmn:parallelGateway id="split">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="pick" />
    {_service("pick", "f2", "f4")}
    <bpmn:sequenceFlow id="f4" sourceRef="pick" targetRef="pack" />
    {_service("pack", "f4", "f5")}
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="approve" />
    <bpmn:userTask id="approve"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f6</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f5" sourceRef="pack" targetRef="join" />
    <bpmn:sequenceFlow id="f6" sourceRef="approve" targetRef="join" />
    <bpmn:parallelGateway id="join">
      <bpmn:incoming>f5</bpmn:incoming><bpmn:incoming>f6</bpmn:incoming>
      <bpmn:outgoing>f7</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:sequenceFlow id="f7" sourceRef="join" targetRef="e" />
    <bpmn:endEvent id="e"><bpmn:incoming>f7</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""")

# The thrower signals "go" after pick and pack; the listener waits for it, then a clerk.
SIGNALS = _definitions(f"""
  <bpmn:process id="thrower" isExecutable="true">
    <bpmn:startEvent id="ts"><bpmn:outgoing>t1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="t1" sourceRef="ts" targetRef="pick" />
    {_service("pick", "t1", "t2")}
    <bpmn:sequenceFlow id="t2" sourceRef="pick" targetRef="pack" />
    {_service("pack", "t2", "t3")}
    <bpmn:sequenceFlow id="t3" sourceRef="pack" targetRef="throw" />
    <bpmn:intermediateThrowEvent id="throw">
      <bpmn:incoming>t3</bpmn:incoming><bpmn:outgoing>t4</bpmn:outgoing>
      <bpmn:signalEventDefinition signalRef="sig" />
    </bpmn:intermediateThrowEvent>
    <bpmn:sequenceFlow id="t4" sourceRef="throw" targetRef="te" />
    <bpmn:endEvent id="te"><bpmn:incoming>t4</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
  <bpmn:process id="listener" isExecutable="true">
    <bpmn:startEvent id="ls"><bpmn:outgoing>l1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="l1" sourceRef="ls" targetRef="heard" />
    <bpmn:intermediateCatchEvent id="heard">
      <bpmn:incoming>l1</bpmn:incoming><bpmn:outgoing>l2</bpmn:outgoing>
      <bpmn:signalEventDefinition signalRef="sig" />
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="l2" sourceRef="heard" targetRef="ship" />
    <bpmn:userTask id="ship"><bpmn:incoming>l2</bpmn:incoming><bpmn:outgoing>l3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="l3" sourceRef="ship" targetRef="le" />
    <bpmn:endEvent id="le"><bpmn:incoming>l3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""")


# pick and pack in parallel branches, joined.
BRANCHES = _definitions(f"""
  <bpmn:process id="branches" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="split" />
    <bpmn:parallelGateway id="split">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="pick" />
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="pack" />
    {_service("pick", "f2", "f4")}
    {_service("pack", "f3", "f5")}
    <bpmn:sequenceFlow id="f4" sourceRef="pick" targetRef="join" />
    <bpmn:sequenceFlow id="f5" sourceRef="pack" targetRef="join" />
    <bpmn:parallelGateway id="join">
      <bpmn:incoming>f4</bpmn:incoming><bpmn:incoming>f5</bpmn:incoming>
      <bpmn:outgoing>f6</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="e" />
    <bpmn:endEvent id="e"><bpmn:incoming>f6</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""")


class RecordingMemoryStore(MemoryStore):
    """A memory store that records every checkpoint it commits: (instance id, status, how
    many history rows)."""

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[tuple[str, InstanceStatus, int]] = []

    def commit(self, checkpoint: Checkpoint) -> None:
        super().commit(checkpoint)
        self.commits.append(
            (checkpoint.instance.id, checkpoint.instance.status, len(checkpoint.history))
        )


class CountingStore:
    """Any store, counting the checkpoints of each instance it is given to commit."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.checkpoints: dict[str, int] = {}

    def _count(self, checkpoints: Sequence[Checkpoint]) -> None:
        for checkpoint in checkpoints:
            instance_id = checkpoint.instance.id
            self.checkpoints[instance_id] = self.checkpoints.get(instance_id, 0) + 1

    def commit(self, checkpoint: Checkpoint) -> None:
        self._count([checkpoint])
        self._store.commit(checkpoint)

    def commit_many(self, checkpoints: Sequence[Checkpoint]) -> list[RetailflowError | None]:
        self._count(checkpoints)
        return self._store.commit_many(checkpoints)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def engine_on(
    store: Any, clock: VirtualClock, tmp_path: Path, text: str, handlers: HandlerRegistry
) -> Engine:
    path = tmp_path / f"process{len(list(tmp_path.glob('*.bpmn')))}.bpmn"
    path.write_text(text)
    engine = Engine(store=store, clock=clock, handlers=handlers)
    engine.deploy(path)
    return engine


def recording_handlers(calls: list[str], *topics: str) -> HandlerRegistry:
    """Handlers for ``topics`` that note each call and return nothing."""
    handlers = HandlerRegistry()
    for topic in topics:
        handlers.register(topic, _noting(calls, topic))
    return handlers


def _noting(calls: list[str], topic: str) -> Any:
    def noted() -> dict[str, Any]:
        calls.append(topic)
        return {}

    return noted


def story(history: Sequence[HistoryEvent]) -> list[tuple[HistoryKind, str | None]]:
    return [(event.kind, event.element_id) for event in history]


def test_a_chain_is_committed_once_and_stores_what_a_commit_per_step_would(
    clock: VirtualClock, tmp_path: Path
) -> None:
    calls: list[str] = []
    memory = RecordingMemoryStore()
    chained = engine_on(
        memory, clock, tmp_path, FULFILMENT, recording_handlers(calls, "pick", "pack", "label")
    )
    stepwise = engine_on(
        SqlStore(f"sqlite:///{tmp_path / 'stepwise.db'}"),
        clock,
        tmp_path,
        FULFILMENT,
        recording_handlers(calls, "pick", "pack", "label"),
    )
    order = chained.start("fulfilment", business_key="SO-1")
    twin = stepwise.start("fulfilment", business_key="SO-1")
    rows_at_start = len(chained.history(order.id))
    memory.commits.clear()

    assert chained.run() == 3
    assert stepwise.run() == 3

    # One checkpoint for the three steps, with every step's history.
    assert [(i, status) for i, status, _ in memory.commits] == [(order.id, InstanceStatus.RUNNING)]
    assert story(chained.history(order.id)) == story(stepwise.history(twin.id))
    assert memory.commits[0][2] == len(chained.history(order.id)) - rows_at_start
    # The last step's wait states, and a version bumped once per step.
    assert chained.jobs() == []
    assert [task.element_id for task in chained.tasks(instance=order.id)] == ["review"]
    assert chained.instance(order.id).version == stepwise.instance(twin.id).version
    # The stored state is the last step's: another engine restores it and goes on.
    other = Engine(store=memory, clock=clock, handlers=HandlerRegistry())
    (review,) = other.tasks(instance=order.id)
    other.complete_task(review.id, {})
    assert other.instance(order.id).status == InstanceStatus.COMPLETED


def _instance(version: int) -> Instance:
    return Instance("i1", "p:1", "p", "SO-1", InstanceStatus.RUNNING, _NOW, version=version)


_NOW = VirtualClock().now()


def _job(job_id: str) -> Job:
    return Job(job_id, "i1", JobKind.SERVICE, job_id, _NOW, topic="t", retries_left=3)


def _event(element: str) -> HistoryEvent:
    return HistoryEvent("i1", "p:1", HistoryKind.ELEMENT_ENTERED, _NOW, element_id=element)


def _incident(job_id: str) -> Incident:
    return Incident(f"incident-of-{job_id}", "i1", job_id, job_id, "broken", _NOW)


def _message(message_id: str) -> BufferedMessage:
    return BufferedMessage(
        message_id, f"m-{message_id}", "SO-1", {}, _NOW + timedelta(hours=1), _NOW
    )


def _two_steps() -> tuple[Checkpoint, Checkpoint]:
    """Two steps of one instance: the second removes the job whose incident the first opened,
    keeps the other, and each consumes a buffered message."""
    first = Checkpoint(
        instance=_instance(2),
        state=b"first",
        expected_version=1,
        jobs=[_job("a"), _job("b")],
        incidents=[_incident("a"), _incident("b")],
        history=[_event("x"), _event("y")],
        consumed_message_ids=["m1"],
        now=_NOW,
    )
    second = Checkpoint(
        instance=_instance(3),
        state=b"second",
        expected_version=2,
        jobs=[_job("b"), _job("c")],
        incidents=[_incident("c")],
        history=[_event("z")],
        consumed_message_ids=["m2"],
        now=_NOW,
    )
    return first, second


def _seeded() -> MemoryStore:
    store = MemoryStore()
    store.commit(Checkpoint(instance=_instance(1), state=b"", expected_version=None))
    for message_id in ("m1", "m2", "m3"):
        store.buffer_message(_message(message_id))
    return store


def _stored(store: MemoryStore) -> tuple[Any, ...]:
    instance, state, _ = store.load_state("i1")
    return (
        instance.version,
        state,
        sorted(job.id for job in store.list_jobs()),
        sorted(incident.id for incident in store.list_incidents()),
        [event.element_id for event in store.history("i1")],
        [
            m.id
            for name in ("m-m1", "m-m2", "m-m3")
            for m in store.take_buffered_messages(name, "SO-1", _NOW)
        ],
    )


def test_merged_steps_store_jobs_incidents_history_and_messages_as_two_commits_do() -> None:
    stepwise = _seeded()
    for checkpoint in _two_steps():
        stepwise.commit(checkpoint)
    merged = _seeded()
    group = GroupCommit(merged, limit=8)
    committed: list[str] = []
    first, second = _two_steps()
    for name, checkpoint in (("first", first), ("second", second)):
        group.add(
            checkpoint,
            committed=lambda name=name: committed.append(name),  # type: ignore[misc]
            refused=lambda error: None,
            undo=lambda: None,
            job=None,
            state=lambda state=checkpoint.state: state,  # type: ignore[misc]
        )

    assert not group.holds(_job("b"))  # chained, not waited for
    assert group.holds(_job("a"))  # the chain took this job away: it meets the flushed state
    group.flush()

    assert _stored(merged) == _stored(stepwise)
    assert _stored(merged) == (
        3,
        b"second",
        ["b", "c"],
        ["incident-of-b", "incident-of-c"],
        ["x", "y", "z"],
        ["m3"],
    )
    assert committed == ["first", "second"]


def test_a_failed_handler_in_a_chain_is_recorded_after_the_steps_before_it(
    clock: VirtualClock, tmp_path: Path
) -> None:
    calls: list[str] = []
    handlers = recording_handlers(calls, "pick", "label")

    @handlers.handler("pack", retries=3)
    def pack() -> dict[str, Any]:
        calls.append("pack")
        raise OSError("the packing station is offline")

    engine = engine_on(MemoryStore(), clock, tmp_path, FULFILMENT, handlers)
    order = engine.start("fulfilment")

    assert engine.run() == 2

    # pick's step is stored, pack's failure recorded on its job: one call each, as ever.
    assert calls == ["pick", "pack"]
    (job,) = engine.jobs()
    assert (job.element_id, job.retries_left, job.lock_owner) == ("pack", 2, None)
    assert "offline" in (job.last_error or "")
    kinds = story(engine.history(order.id))
    assert kinds.index((HistoryKind.ELEMENT_COMPLETED, "pick")) < kinds.index(
        (HistoryKind.ELEMENT_ENTERED, "pack")
    )
    assert kinds[-1] == (HistoryKind.JOB_FAILED, "pack")


def test_a_step_failing_mid_chain_stores_no_half_advanced_run_and_is_recorded_where_it_fails(
    clock: VirtualClock, tmp_path: Path
) -> None:
    calls: list[str] = []
    engine = engine_on(
        RecordingMemoryStore(), clock, tmp_path, ROUTING, recording_handlers(calls, "pick", "pack")
    )
    order = engine.start("routing")

    engine.run()

    # The gateway after pack finds no route: pack's step fails after pick's was chained.
    # pick's chain is undone (its run was half-advanced) and its job runs again, its steps
    # committed one by one, so the failure is recorded on pack's stored job.
    assert calls == ["pick", "pack", "pick", "pack"]
    assert engine.instance(order.id).status == InstanceStatus.RUNNING
    (job,) = engine.jobs()
    assert job.element_id == "pack"
    assert job.last_error
    completed = [
        element
        for kind, element in story(engine.history(order.id))
        if kind == HistoryKind.ELEMENT_COMPLETED
    ]
    assert completed.count("pick") == 1
    assert "pack" not in completed
    # The store restores the instance waiting at pack: a fixed route completes it.
    engine.set_variables(order.id, {"carrier": "road"})
    engine.retry(order.id, retries=1)
    engine.run()
    assert engine.instance(order.id).status == InstanceStatus.COMPLETED


def test_a_chain_another_engine_moved_on_is_refused_and_taken_again(
    clock: VirtualClock, tmp_path: Path
) -> None:
    store = MemoryStore()
    clerk = Engine(store=store, clock=clock, handlers=HandlerRegistry())
    calls: list[str] = []
    handlers = recording_handlers(calls, "pick")

    @handlers.handler("pack")
    def pack() -> dict[str, Any]:
        # The clerk approves through another engine on the same store, while this engine's
        # pick and pack steps wait, chained, for their flush.
        calls.append("pack")
        for task in clerk.tasks():
            clerk.complete_task(task.id, {})
        return {}

    worker = engine_on(store, clock, tmp_path, PARALLEL, handlers)
    order = worker.start("parallel")

    worker.run()

    # The chain was refused (the clerk's commit came first) and taken again from pick's step
    # (its handler's result re-applied on a fresh read); pack's job, never stored, ran again.
    assert worker.instance(order.id).status == InstanceStatus.COMPLETED
    completed = [
        element
        for kind, element in story(worker.history(order.id))
        if kind == HistoryKind.ELEMENT_COMPLETED
    ]
    assert sorted(e for e in completed if e in {"pick", "pack", "approve"}) == [
        "approve",
        "pack",
        "pick",
    ]
    assert calls == ["pick", "pack", "pack"]
    assert worker.jobs() == []


def test_a_thrown_signal_is_delivered_after_the_chain_that_threw_it_is_committed(
    clock: VirtualClock, tmp_path: Path
) -> None:
    calls: list[str] = []
    store = RecordingMemoryStore()
    engine = engine_on(store, clock, tmp_path, SIGNALS, recording_handlers(calls, "pick", "pack"))
    listener = engine.start("listener")
    thrower = engine.start("thrower")
    store.commits.clear()

    engine.run()

    # The thrower's chain (pick, pack, the throw, its end) is committed before the listener
    # hears the signal.
    assert [(i, status) for i, status, _ in store.commits] == [
        (thrower.id, InstanceStatus.COMPLETED),
        (listener.id, InstanceStatus.RUNNING),
    ]
    assert [task.element_id for task in engine.tasks(instance=listener.id)] == ["ship"]


# A service task with an interrupting boundary timer, then a second task.
TIMED_WORK = _definitions(f"""
  <bpmn:process id="timed" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="work" />
    {_service("work", "f1", "f2")}
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="ship" />
    {_service("ship", "f2", "f3")}
    <bpmn:sequenceFlow id="f3" sourceRef="ship" targetRef="done" />
    <bpmn:endEvent id="done"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:boundaryEvent id="too_late" attachedToRef="work">
      <bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1M</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f4" sourceRef="too_late" targetRef="timed_out" />
    <bpmn:endEvent id="timed_out"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""")


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_job_a_chained_step_took_away_meets_the_chain_s_state_not_the_stored_one(
    kind: str, clock: VirtualClock, tmp_path: Path
) -> None:
    """Both the task's job and its boundary timer are due and claimed by one run(); the task
    runs first and removes the timer. The timer's job, next in hand, must find the instance
    moved on (as on a database), never the state stored before the chain."""
    store: Store = MemoryStore() if kind == "memory" else SqlStore(f"sqlite:///{tmp_path / 't.db'}")
    calls: list[str] = []
    engine = engine_on(
        store, clock, tmp_path, TIMED_WORK, recording_handlers(calls, "work", "ship")
    )
    order = engine.start("timed")
    clock.advance(minutes=5)  # the worker was away: both jobs are due

    engine.run()

    assert calls == ["work", "ship"]
    assert engine.instance(order.id).status == InstanceStatus.COMPLETED
    completed = [
        event.element_id
        for event in engine.history(order.id)
        if event.kind == HistoryKind.ELEMENT_COMPLETED
    ]
    assert "timed_out" not in completed and completed[-1] == "done"
    assert [e.kind for e in engine.history(order.id)].count(HistoryKind.INSTANCE_COMPLETED) == 1
    assert engine.jobs() == []


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_only_the_memory_store_chains_a_database_commits_every_wait_state(
    kind: str, clock: VirtualClock, tmp_path: Path
) -> None:
    inner: Store = (
        MemoryStore() if kind == "memory" else SqlStore(f"sqlite:///{tmp_path / 'every.db'}")
    )
    store = CountingStore(inner)
    calls: list[str] = []
    engine = engine_on(
        store, clock, tmp_path, FULFILMENT, recording_handlers(calls, "pick", "pack", "label")
    )
    order = engine.start("fulfilment")
    store.checkpoints.clear()

    assert engine.run() == 3

    assert store.checkpoints == {order.id: 1 if kind == "memory" else 3}
    assert [task.element_id for task in engine.tasks(instance=order.id)] == ["review"]


def test_instances_taking_turns_in_one_run_are_each_chained_into_one_checkpoint(
    clock: VirtualClock, tmp_path: Path
) -> None:
    store = CountingStore(MemoryStore())
    calls: list[str] = []
    engine = engine_on(
        store, clock, tmp_path, FULFILMENT, recording_handlers(calls, "pick", "pack", "label")
    )
    orders = [engine.start("fulfilment").id for _ in range(3)]
    store.checkpoints.clear()

    # Two instances' jobs in hand at a time, their steps taking turns.
    assert engine.run(claim_batch=2) == 9

    assert store.checkpoints == {order: 1 for order in orders}
    assert all(engine.tasks(instance=order) for order in orders)


def test_a_chain_whose_state_cannot_be_dumped_is_undone_and_its_job_given_back() -> None:
    store = _seeded()
    store.commit(
        Checkpoint(instance=_instance(2), state=b"stored", expected_version=1, jobs=[_job("a")])
    )
    [claimed] = store.claim_due_jobs(now=_NOW, owner="w", lease_until=_NOW, limit=1)
    group = GroupCommit(store, limit=8)
    undone: list[str] = []

    def unstorable() -> bytes:
        raise ExecutionError("a value the state cannot hold")

    group.add(
        Checkpoint(instance=_instance(3), state=b"", expected_version=2, jobs=[_job("b")]),
        committed=lambda: undone.append("committed"),
        refused=lambda error: undone.append("refused"),
        undo=lambda: undone.append("undone"),
        job=claimed,
        state=unstorable,
    )
    group.flush()

    # Nothing of the chain is stored; its job is free to run again, and the instance's next
    # steps are committed one by one, so the step that cannot be stored fails where it is.
    assert undone == ["undone"]
    instance, state, _ = store.load_state("i1")
    assert (instance.version, state) == (2, b"stored")
    assert [(job.id, job.lock_owner) for job in store.list_jobs()] == [("a", None)]
    assert not group.chains("i1")


def test_a_failed_job_claimed_beside_a_chained_one_is_recorded_after_the_chain(
    clock: VirtualClock, tmp_path: Path
) -> None:
    calls: list[str] = []
    handlers = HandlerRegistry()
    for topic in ("pick", "pack"):
        handlers.register(topic, _second_call_fails(calls, topic))
    engine = engine_on(MemoryStore(), clock, tmp_path, BRANCHES, handlers)
    order = engine.start("branches")

    assert engine.run() == 2

    # Both branches' jobs were claimed together: the first one's step waited, chained, when
    # the second one failed; the failure is recorded after that step, as in a commit per step.
    first, second = calls
    kinds = story(engine.history(order.id))
    assert kinds.index((HistoryKind.ELEMENT_COMPLETED, first)) < kinds.index(
        (HistoryKind.JOB_FAILED, second)
    )
    (job,) = engine.jobs()
    assert (job.element_id, job.retries_left, job.lock_owner) == (second, 2, None)


def _second_call_fails(calls: list[str], topic: str) -> Any:
    def handler() -> dict[str, Any]:
        calls.append(topic)
        if len(calls) > 1:
            raise OSError("the second branch's station is offline")
        return {}

    return handler
