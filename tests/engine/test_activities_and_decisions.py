"""Multi-instance, call activities, DMN decisions in both dialects, and script tasks."""

from __future__ import annotations

import pytest

from retailflow import InstanceStatus
from scenario_kit import FIXTURES, EngineFactory, Recorder, passed


def test_parallel_multi_instance_calls_the_handler_once_per_channel_and_collects_results(
    make_engine: EngineFactory,
) -> None:
    recorder = Recorder()
    recorder.add("test.channel", lambda v: {"result": f"sent via {v['channel']}"})
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "multi_instance.bpmn")
    instance = engine.start(
        "multi_instance",
        variables={"channels": ["app", "store_pos", "social"], "approvers": ["kim", "lee"]},
    )
    engine.run()
    assert sorted(call[1]["channel"] for call in recorder.calls) == ["app", "social", "store_pos"]
    for approver in ("kim", "lee"):
        [task] = engine.tasks(instance=instance.id)
        assert task.element_id == "approve_each" and task.assignee == approver
        engine.complete_task(task.id, {"approved": True})
    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert sorted(finished.variables["results"]) == [
        "sent via app",
        "sent via social",
        "sent via store_pos",
    ]


def test_an_instance_that_never_sets_the_output_element_contributes_null_as_in_camunda(
    make_engine: EngineFactory,
) -> None:
    recorder = Recorder()
    recorder.add(
        "test.channel",
        lambda v: {} if v["channel"] == "social" else {"result": f"sent via {v['channel']}"},
    )
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "multi_instance.bpmn")
    instance = engine.start(
        "multi_instance", variables={"channels": ["app", "social", "store_pos"], "approvers": []}
    )
    engine.run()
    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert finished.variables["results"] == ["sent via app", None, "sent via store_pos"]


def test_call_activity_runs_the_child_process_and_returns_its_variables(
    make_engine: EngineFactory,
) -> None:
    recorder = Recorder()
    recorder.add("test.prepare", {"prepared": True})
    recorder.add("test.child", lambda v: {"child_saw_prepared": v["prepared"]})
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "call_activity.bpmn")
    instance = engine.start("parent_process")
    engine.run()
    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert finished.variables["child_saw_prepared"] is True
    assert recorder.topics() == ["test.prepare", "test.child"]


@pytest.mark.parametrize("process_id", ["decision_c8", "decision_c7"])
@pytest.mark.parametrize(
    ("variables", "topic"),
    [
        ({"channel": "store_pickup", "distance_km": 3}, "test.collect"),
        ({"channel": "app", "distance_km": 3}, "test.store"),
        ({"channel": "app", "distance_km": 40}, "test.warehouse"),
    ],
)
def test_dmn_decision_routes_fulfilment_in_both_dialects(
    make_engine: EngineFactory, process_id: str, variables: dict, topic: str
) -> None:
    recorder = Recorder()
    for name in ("test.store", "test.warehouse", "test.collect"):
        recorder.add(name)
    engine = make_engine(recorder.registry)
    engine.deploy(
        FIXTURES / "decision.bpmn", FIXTURES / "decision_c7.bpmn", FIXTURES / "fulfilment_route.dmn"
    )
    instance = engine.start(process_id, variables=variables)
    engine.run()
    assert recorder.topics() == [topic]
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert "decide_route" in passed(engine, instance.id)


def test_feel_script_task_computes_a_result_variable(make_engine: EngineFactory) -> None:
    engine = make_engine()
    engine.deploy(FIXTURES / "script.bpmn")
    instance = engine.start(
        "script_c8", variables={"items": [{"price": 10, "qty": 2}, {"price": 5, "qty": 1}]}
    )
    assert engine.instance(instance.id).variables["total"] == 25


@pytest.mark.parametrize(
    ("items", "route"),
    [
        ([{"price": 60, "qty": 2}], "big_order"),
        ([{"price": 5, "qty": 1}], "normal_order"),
    ],
)
def test_python_script_and_conditions_run_sandboxed_in_spiff_style_files(
    make_engine: EngineFactory, items: list, route: str
) -> None:
    engine = make_engine()
    engine.deploy(FIXTURES / "script_spiff.bpmn")
    instance = engine.start("script_spiff", variables={"items": items})
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert route in passed(engine, instance.id)


def test_multi_instance_continues_in_a_new_engine_after_every_step(
    make_engine: EngineFactory,
) -> None:
    recorder = Recorder()
    recorder.add("test.channel", lambda v: {"result": f"sent via {v['channel']}"})
    first = make_engine(recorder.registry)
    first.deploy(FIXTURES / "multi_instance.bpmn")
    instance = first.start(
        "multi_instance",
        variables={"channels": ["app", "store_pos", "social"], "approvers": ["kim", "lee"]},
    )
    store = first.store
    while job := next(iter(make_engine(recorder.registry, store=store).jobs()), None):
        engine = make_engine(recorder.registry, store=store)
        engine.run(max_jobs=1)
        assert job.id not in [j.id for j in engine.jobs()]
    for approver in ("kim", "lee"):
        engine = make_engine(recorder.registry, store=store)
        [task] = engine.tasks(instance=instance.id)
        assert task.assignee == approver
        engine.complete_task(task, {"approved": True})
    finished = make_engine(recorder.registry, store=store).instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert finished.variables["results"] == [
        "sent via app",
        "sent via store_pos",
        "sent via social",
    ]


def test_two_instances_each_keep_their_own_event_subprocess_subscription(
    make_engine: EngineFactory,
) -> None:
    recorder = Recorder()
    for topic in ("test.risky", "test.refund", "test.cleanup"):
        recorder.add(topic)
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "event_subprocess.bpmn")
    first = engine.start("event_subprocess", variables={"order_id": "A"})
    second = engine.start("event_subprocess", variables={"order_id": "B"})
    engine.run()
    engine.correlate("cancel_order", key="B")
    engine.run()
    assert engine.instance(second).status == InstanceStatus.COMPLETED
    assert engine.instance(first).status == InstanceStatus.RUNNING
    engine.correlate("cancel_order", key="A")
    engine.run()
    assert engine.instance(first).status == InstanceStatus.COMPLETED


def test_start_returns_the_instance_as_committed(make_engine: EngineFactory) -> None:
    engine = make_engine()
    engine.deploy(FIXTURES / "script.bpmn")
    instance = engine.start("script_c8", variables={"items": [{"price": 2, "qty": 3}]})
    assert instance.status == InstanceStatus.COMPLETED and instance.version == 1
    assert instance.variables["total"] == 6
