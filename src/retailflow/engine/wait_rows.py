"""A step's wait states and completed elements, as the rows of its ``Checkpoint``.

The seam reports what an instance waits for (``WaitStates``) and what it did (``Step``); this
module decides how those become jobs, subscriptions, user tasks and history rows: how many
retries a job gets, which key a message waits under, who a user task is for.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from retailflow.engine.spiff import FailedActivation, PendingCatch, Step, WaitStates
from retailflow.expressions import ExpressionEngine
from retailflow.handlers import HandlerRegistry, RetryPolicy
from retailflow.model import (
    HistoryEvent,
    HistoryKind,
    Incident,
    Instance,
    Job,
    JobKind,
    Subscription,
    SubscriptionKind,
    UserTask,
)


class WaitStateRows:
    """Builds the rows of a checkpoint for one engine's handlers, retry policy and
    expressions."""

    def __init__(
        self, handlers: HandlerRegistry, retry_policy: RetryPolicy, expressions: ExpressionEngine
    ) -> None:
        self._handlers = handlers
        self._retry_policy = retry_policy
        self._expressions = expressions

    def jobs(self, instance: Instance, waits: WaitStates, now: datetime) -> list[Job]:
        """Service jobs due now, and timer jobs due when their timers are."""
        jobs = [
            Job(
                id=pending.task_id,
                instance_id=instance.id,
                kind=JobKind.SERVICE,
                element_id=pending.element_id,
                due_at=now,
                topic=pending.topic,
                retries_left=self._retries(pending.retries, pending.topic),
            )
            for pending in waits.jobs
        ]
        # A timer job's id names its due time: each repetition of a cycle is a new job.
        jobs.extend(
            Job(
                id=f"{timer.task_id}@{timer.element_id}@{timer.due_at.isoformat()}",
                instance_id=instance.id,
                kind=JobKind.TIMER,
                element_id=timer.element_id,
                due_at=timer.due_at,
                retries_left=1,
            )
            for timer in waits.timers
        )
        # Born failed: no retries left, so it runs only after a retry resolves its incident.
        jobs.extend(
            Job(
                id=activation_job_id(failure),
                instance_id=instance.id,
                kind=JobKind.ACTIVATION,
                element_id=failure.element_id,
                due_at=now,
                retries_left=0,
                last_error=failure.message,
            )
            for failure in waits.failures
        )
        return jobs

    def incidents(
        self, instance: Instance, failures: Sequence[FailedActivation], now: datetime
    ) -> tuple[list[Incident], list[HistoryEvent]]:
        """The incidents of wait states that failed to set up in this step, and their
        history: the incident belongs to the element that failed (a timer, a job's task),
        whose activation job a ``retry`` runs again."""
        incidents = [
            Incident(
                uuid.uuid4().hex,
                instance.id,
                activation_job_id(failure),
                failure.element_id,
                failure.message,
                now,
            )
            for failure in failures
        ]
        history = [
            HistoryEvent(
                instance.id,
                instance.definition_id,
                HistoryKind.INCIDENT_OPENED,
                now,
                element_id=failure.element_id,
                job_id=activation_job_id(failure),
                variables={"error": failure.message},
            )
            for failure in failures
        ]
        return incidents, history

    def user_tasks(self, instance: Instance, waits: WaitStates, now: datetime) -> list[UserTask]:
        """Open user tasks, with assignment settings evaluated against the task's data."""
        tasks = []
        for pending in waits.user_tasks:
            config = pending.config
            setting = _Settings(self._expressions, pending.variables, pending.element_id)
            tasks.append(
                UserTask(
                    id=pending.task_id,
                    instance_id=instance.id,
                    element_id=pending.element_id,
                    name=pending.name,
                    created_at=now,
                    assignee=_text(setting(config.assignee)),
                    candidate_groups=_names(setting(config.candidate_groups)),
                    candidate_users=_names(setting(config.candidate_users)),
                    form_key=config.form_key,
                    variables=pending.variables,
                )
            )
        return tasks

    def _retries(self, drawn: int | None, topic: str) -> int:
        """Runs a job gets: as drawn in the file, else as registered with the handler, else
        the engine's retry policy."""
        if drawn is not None:
            return drawn
        handler = self._handlers.get(topic)
        if handler is not None and handler.retries is not None:
            return handler.retries
        return self._retry_policy.retries


def activation_job_id(failure: FailedActivation) -> str:
    """One activation job per failed element of a task (an event-based gateway's timers share
    the gateway's task)."""
    return f"{failure.task_id}@{failure.element_id}@activation"


def subscriptions(instance: Instance, waits: WaitStates) -> list[Subscription]:
    """The instance's message and signal subscriptions. One task can wait on several events
    (an event-based gateway), so a subscription's id names the event's element too."""
    return [
        Subscription(
            id=f"{catch.task_id}@{catch.element_id}",
            instance_id=instance.id,
            kind=SubscriptionKind(catch.kind),
            name=catch.name,
            element_id=catch.element_id,
            correlation_key=correlation_key(catch, instance),
        )
        for catch in waits.catches
    ]


def correlation_key(catch: PendingCatch, instance: Instance) -> str | None:
    """A message catch with no correlation-key expression (Camunda 7 files) correlates by the
    instance's business key, as Camunda 7 does."""
    if catch.kind != "message" or catch.correlation_key is not None:
        return catch.correlation_key
    return instance.business_key


def step_history(
    instance: Instance,
    completed: Sequence[Step],
    entered: Sequence[Step],
    now: datetime,
    job: Job | None,
) -> list[HistoryEvent]:
    """History rows for a step: for each element completed, the decisions it evaluated, its
    completion (the job's own with its attempt) and the sequence flows taken out of it; then
    the wait states entered."""

    def row(
        kind: HistoryKind,
        step: Step,
        variables: dict[str, Any] | None = None,
        attempt: int | None = None,
        job_id: str | None = None,
    ) -> HistoryEvent:
        """A row about ``step``'s element."""
        return HistoryEvent(
            instance.id,
            instance.definition_id,
            kind,
            now,
            element_id=step.element_id,
            element_type=step.element_type,
            attempt=attempt,
            job_id=job_id,
            variables={} if variables is None else variables,
            process_id=step.process_id,
        )

    events: list[HistoryEvent] = []
    for step in completed:
        if step.listener is not None:
            event, name = step.listener
            listened = {"event": event, "listener": name, "variables": step.variables}
            events.append(row(HistoryKind.LISTENER_INVOKED, step, variables=listened))
            continue
        own = job if job is not None and step.element_id == job.element_id else None
        events.extend(
            row(
                HistoryKind.DECISION_EVALUATED,
                step,
                variables={
                    "decision_id": hits.decision_id,
                    "rule_ids": list(hits.rule_ids),
                    "rule_numbers": list(hits.rule_numbers),
                },
            )
            for hits in step.decisions
        )
        events.append(
            row(
                HistoryKind.ELEMENT_COMPLETED,
                step,
                attempt=own.attempt if own else None,
                job_id=own.id if own else None,
                variables=step.variables,
            )
        )
        events.extend(
            HistoryEvent(
                instance.id,
                instance.definition_id,
                HistoryKind.SEQUENCE_FLOW_TAKEN,
                now,
                element_id=flow,
                element_type="sequenceFlow",
                process_id=step.process_id,
            )
            for flow in step.flows
        )
    events.extend(row(HistoryKind.ELEMENT_ENTERED, step) for step in entered)
    return events


class _Settings:
    """Assignee-like settings are literals unless written as an expression."""

    def __init__(
        self, expressions: ExpressionEngine, variables: Mapping[str, Any], element_id: str
    ) -> None:
        self._expressions = expressions
        self._variables = variables
        self._element_id = element_id

    def __call__(self, text: str | None) -> Any:
        if text is None:
            return None
        if text.startswith("=") or "${" in text:
            return self._expressions.evaluate(text, self._variables, element_id=self._element_id)
        return text


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(",") if name.strip())
    return tuple(str(name) for name in value)
