"""Where an instance stands and what it passed, read from the engine as a person would ask.

Every failed assertion prints this, so a red test says at once whether the instance waits
somewhere else, took another branch, or is stuck on an incident, without a debugger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retailflow.diagram.model import ProcessModel, definition_files
from retailflow.engine import Engine
from retailflow.model import (
    HistoryEvent,
    HistoryKind,
    Incident,
    Instance,
    Job,
    JobKind,
    UserTask,
)


@dataclass(frozen=True, slots=True)
class WaitState:
    """One thing the instance waits for: a job, a timer, a message, a signal or a person."""

    element_id: str
    what: str


@dataclass(frozen=True, slots=True)
class Whereabouts:
    """A snapshot of one instance: status, wait states, incidents, and the elements passed."""

    instance: Instance
    waiting: tuple[WaitState, ...]
    user_tasks: tuple[UserTask, ...]
    incidents: tuple[Incident, ...]
    history: tuple[HistoryEvent, ...]
    models: tuple[ProcessModel, ...]

    @classmethod
    def read(cls, engine: Engine, instance: str | Instance) -> Whereabouts:
        """Read the instance's current state from ``engine``."""
        current = engine.instance(instance)
        definition = engine.store.get_definition(current.definition_id)
        files = definition_files(engine.store, definition)
        waiting = [_job_wait(job) for job in engine.jobs(instance=current.id)]
        tasks = tuple(engine.tasks(instance=current.id))
        waiting.extend(WaitState(task.element_id, _task_wait(task)) for task in tasks)
        for subscription in engine.subscriptions(instance=current.id):
            key = (
                f", key {subscription.correlation_key!r}"
                if subscription.correlation_key is not None
                else ""
            )
            waiting.append(
                WaitState(
                    subscription.element_id, f"{subscription.kind} {subscription.name!r}{key}"
                )
            )
        return cls(
            current,
            tuple(waiting),
            tasks,
            tuple(engine.incidents(instance=current.id)),
            tuple(engine.history(current.id)),
            tuple(process for file in files for process in file.processes),
        )

    @property
    def passed(self) -> list[str]:
        """Elements completed, in order (an element passed twice is listed twice)."""
        return [
            event.element_id
            for event in self.history
            if event.kind == HistoryKind.ELEMENT_COMPLETED and event.element_id
        ]

    @property
    def waiting_at(self) -> list[str]:
        """Elements with an open wait state, in the order listed."""
        return list(dict.fromkeys(wait.element_id for wait in self.waiting))

    @property
    def variables(self) -> dict[str, Any]:
        return self.instance.variables

    def label(self, element_id: str) -> str:
        """``id "Name"`` as drawn, for messages."""
        for model in self.models:
            if element_id in model.nodes:
                return model.label(element_id)
        return element_id

    def describe(self) -> str:
        """The snapshot as the lines an assertion message ends with."""
        instance = self.instance
        key = f", business key {instance.business_key!r}" if instance.business_key else ""
        lines = [
            f"instance {instance.id[:8]} of {instance.definition_id}{key} is {instance.status}"
        ]
        waits = [f"{self.label(wait.element_id)} ({wait.what})" for wait in self.waiting]
        lines.append(_listing("waiting at", waits))
        lines.append(
            _listing(
                "incidents",
                [
                    f"{self.label(incident.element_id)}: {incident.message}"
                    for incident in self.incidents
                ],
            )
        )
        lines.append(f"  passed:     {' -> '.join(self.passed) or 'nothing'}")
        lines.append(f"  variables:  {', '.join(sorted(self.variables)) or 'none'}")
        return "\n".join(lines)


def _listing(title: str, items: list[str]) -> str:
    head = f"  {title + ':':<11} "
    if not items:
        return head + "nothing" if title == "waiting at" else head + "none"
    return head + ("\n" + " " * len(head)).join(items)


def _job_wait(job: Job) -> WaitState:
    if job.kind == JobKind.TIMER:
        return WaitState(job.element_id, f"timer due {job.due_at.isoformat()}")
    if job.kind == JobKind.ACTIVATION:
        return WaitState(job.element_id, "not set up: see its incident")
    return WaitState(job.element_id, f"job of task type {job.topic!r}")


def _task_wait(task: UserTask) -> str:
    parts = ["user task"]
    if task.assignee:
        parts.append(f"assignee {task.assignee!r}")
    if task.candidate_groups:
        parts.append(f"candidate groups {', '.join(task.candidate_groups)}")
    if task.candidate_users:
        parts.append(f"candidate users {', '.join(task.candidate_users)}")
    return ", ".join(parts)
