"""Every conformance file, as Camunda Modeler 5 writes it, runs to its end on memory, SQLite
and PostgreSQL, or is refused, by ``retailflow validate`` and by ``deploy`` alike, with the
finding its sidecar names. docs/modeling.md's conformance table is rendered from this suite."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from conformance.suite import TABLE_END, TABLE_START, Case, Drive, cases, table
from retailflow import BpmnError, DeploymentError, Engine, HandlerRegistry, InstanceStatus
from retailflow.handlers.registry import RegisteredHandler
from retailflow.model import Severity, SubscriptionKind
from retailflow.validation import RULES, Category, validate
from scenario_kit import ROOT, EngineFactory, passed

CASES = cases()
MODELING = ROOT / "docs" / "modeling.md"
DEPLOY_CATEGORIES = {Category.FILE, Category.SCHEMA, Category.RUNTIME, Category.DECISION}


class SuiteHandlers(HandlerRegistry):
    """Every job type and delegate name has a handler: the sidecar's, else one returning {}."""

    def __init__(self, behaviours: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.behaviours = behaviours
        self.calls: list[str] = []

    def get(self, topic: str) -> RegisteredHandler | None:
        if super().get(topic) is None:
            behaviour = self.behaviours.get(topic, {})

            def handler(**variables: Any) -> Any:
                self.calls.append(topic)
                if "bpmn_error" in behaviour:
                    raise BpmnError(behaviour["bpmn_error"])
                return behaviour.get("returns", {})

            self.register(topic, handler)
        return super().get(topic)

    def __contains__(self, topic: object) -> bool:
        return isinstance(topic, str)


def _errors(case: Case) -> set[str]:
    """The errors ``validate`` reports that are about running the file, the questions deploy
    answers too (bpmnlint's modelling and the diagram rules are a linter's, not deploy's)."""
    report = validate(case.files)
    return {
        d.rule
        for d in report.diagnostics
        if d.severity == Severity.ERROR and RULES[d.rule].category in DEPLOY_CATEGORIES
    }


@pytest.mark.parametrize("case", [c for c in CASES if c.drive.refused], ids=str)
def test_refused_file_is_refused_by_validate_and_deploy_with_the_named_finding(case: Case) -> None:
    assert case.drive.refused in _errors(case)
    with pytest.raises(DeploymentError) as refused:
        Engine(handlers=SuiteHandlers({})).deploy(*case.files)
    assert case.drive.refused in {f.rule for f in refused.value.findings}
    named = [f for f in refused.value.findings if f.rule == case.drive.refused]
    assert all(f.file and f.element_id for f in named), named


@pytest.mark.parametrize("case", [c for c in CASES if not c.drive.refused], ids=str)
def test_file_deploys_and_runs_to_its_end(case: Case, make_engine: EngineFactory) -> None:
    assert _errors(case) == set(), "validate must agree with deploy"
    drive = case.drive
    handlers = SuiteHandlers(drive.handlers)
    engine = make_engine(handlers)
    deployment = engine.deploy(*case.files)
    started = _start(engine, deployment, drive)
    instance = _drive_to_end(engine, started.id, case)
    assert instance.status == InstanceStatus.COMPLETED
    completed = passed(engine, instance.id)
    assert set(drive.end) <= set(completed), completed
    for name, value in drive.expect_variables.items():
        assert instance.variables.get(name) == value, (name, instance.variables)
    for topic, count in drive.expect_calls.items():
        assert handlers.calls.count(topic) == count, (topic, handlers.calls)


def test_docs_conformance_table_is_the_suite() -> None:
    """docs/modeling.md shows exactly what this suite runs and refuses: regenerate it with
    ``python tests/conformance/suite.py`` after adding or changing a file."""
    text = MODELING.read_text(encoding="utf-8")
    assert TABLE_START in text and TABLE_END in text
    shown = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()
    assert shown == table().strip()


def _start(engine: Engine, deployment: Any, drive: Drive) -> Any:
    """The instance the sidecar's start (message, signal, timer, or a plain start) made."""
    if drive.start_message:
        started = engine.correlate(
            drive.start_message["name"],
            key=drive.start_message.get("key"),
            variables=drive.start_message.get("variables"),
        )
        assert started is not None
        return started
    if drive.start_signal:
        reached = engine.broadcast_signal(
            drive.start_signal["name"], drive.start_signal.get("variables")
        )
        assert len(reached) == 1, reached
        return reached[0]
    if drive.start_timer:
        (schedule,) = engine.jobs()
        engine.clock.advance(max(schedule.due_at - engine.clock.now(), timedelta(0)))
        engine.run()
        (started,) = engine.instances()
        return started
    process = drive.process or _only_process(deployment)
    return engine.start(process, business_key=drive.business_key, variables=drive.variables)


def test_docs_elements_table_names_conformance_files_that_run() -> None:
    """Each row of docs/modeling.md's "BPMN elements" table names, in its last column, the
    conformance files that show the elements running: each must be in the suite, run to its
    end in at least one dialect, and every row must name one."""
    text = MODELING.read_text(encoding="utf-8")
    section = text.split("## BPMN elements", 1)[1].split("\n## ", 1)[0]
    rows = [
        line
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith(("| runs |", "| --- |"))
    ]
    running = {case.construct for case in CASES if not case.drive.refused}
    assert rows
    for row in rows:
        named = re.findall(r"`([a-z0-9_]+)`", row.rstrip(" |").rsplit(" | ", 1)[-1])
        assert named, f"a row names no conformance file: {row[:60]}"
        assert set(named) <= running, (row[:60], sorted(set(named) - running))


def _only_process(deployment: Any) -> str:
    processes = [d.process_id for d in deployment.definitions]
    assert len(processes) == 1, f"name the process to start in the sidecar: {processes}"
    return processes[0]


def _drive_to_end(engine: Engine, instance_id: str, case: Case) -> Any:
    """Run jobs, complete user tasks, deliver the sidecar's messages and signals when they are
    awaited, and move the clock to the next timer, until the instance ends or nothing moves."""
    messages = list(case.drive.messages)
    signals = list(case.drive.signals)
    for _ in range(100):
        engine.run()
        instance = engine.instance(instance_id)
        if instance.status != InstanceStatus.RUNNING:
            return instance
        incidents = engine.incidents(instance=instance_id)
        assert not incidents, [i.message for i in incidents]
        if _act(engine, instance_id, case, messages, signals):
            continue
        due = [job.due_at for job in engine.jobs(instance=instance_id)]
        assert due, _stuck(engine, instance_id)
        now = engine.clock.now()
        engine.clock.advance(max(min(due) - now, timedelta(0)) + timedelta(seconds=1))
    raise AssertionError(f"{case} did not end in 100 rounds: {_stuck(engine, instance_id)}")


def _act(
    engine: Engine,
    instance_id: str,
    case: Case,
    messages: list[dict[str, Any]],
    signals: list[dict[str, Any]],
) -> bool:
    """One outside action the instance waits for; False when it waits only for time."""
    for task in engine.tasks(instance=instance_id):
        engine.complete_task(task, case.drive.tasks.get(task.element_id, {}))
        return True
    waiting = engine.subscriptions(instance=instance_id)
    for message in messages:
        if any(s.kind == SubscriptionKind.MESSAGE and s.name == message["name"] for s in waiting):
            messages.remove(message)
            engine.correlate(
                message["name"], key=message.get("key"), variables=message.get("variables")
            )
            return True
    for signal in signals:
        if any(s.kind == SubscriptionKind.SIGNAL and s.name == signal["name"] for s in waiting):
            signals.remove(signal)
            engine.broadcast_signal(signal["name"], signal.get("variables"))
            return True
    return False


def _stuck(engine: Engine, instance_id: str) -> str:
    return (
        f"instance waits with no job, task, or sidecar message/signal to move it: "
        f"subscriptions {engine.subscriptions(instance=instance_id)}, "
        f"passed {passed(engine, instance_id)}"
    )
