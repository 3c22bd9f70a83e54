"""Where one instance stands, painted on its diagram: the path it took, where it waits, what
failed.

Elements it completed and flows it took are blue; an element holding a token now (an activity
or gateway entered and not yet left, or any element with a live job, subscription or task) is
green with its token count, and its tooltip says what it waits for (a job's topic and due time,
a timer's due time, a message's name and correlation key, a user task's assignee); an element
with an open incident is red with the incident's message. All of it read from the store's records
(history, jobs, subscriptions, tasks, incidents), never from the interpreter's state.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from retailflow.diagram.overlay import Mark, Overlay
from retailflow.model import (
    HistoryEvent,
    HistoryKind,
    Incident,
    Job,
    JobKind,
    Subscription,
    UserTask,
)

PASSED = Mark("passed", "#2563eb", "#dbeafe", emphasis=True)
WAITING = Mark("waiting", "#047857", "#d1fae5")
INCIDENT = Mark("incident", "#b91c1c", "#fee2e2")


@dataclass(frozen=True, slots=True)
class InstanceRecords:
    """What the store holds about one instance now."""

    history: Sequence[HistoryEvent]
    jobs: Sequence[Job] = ()
    subscriptions: Sequence[Subscription] = ()
    tasks: Sequence[UserTask] = ()
    incidents: Sequence[Incident] = ()


def instance_overlay(records: InstanceRecords) -> Overlay:
    """Passed, waiting and incident marks for the elements of one instance."""
    entered: Counter[str] = Counter()
    completed: Counter[str] = Counter()
    taken: Counter[str] = Counter()
    for event in records.history:
        if event.element_id is None:
            continue
        if event.kind == HistoryKind.ELEMENT_ENTERED and not _event_type(event.element_type):
            entered[event.element_id] += 1
        elif event.kind == HistoryKind.ELEMENT_COMPLETED:
            completed[event.element_id] += 1
        elif event.kind == HistoryKind.SEQUENCE_FLOW_TAKEN:
            taken[event.element_id] += 1
    waits = _waits(records)
    marks: dict[str, Mark] = {}
    for element_id, times in (completed + taken).items():
        marks[element_id] = replace(PASSED, title=f"{element_id}: passed {times} time(s)")
    tokens = {e: n - completed[e] for e, n in entered.items() if n > completed[e]}
    for element_id in tokens.keys() | waits.keys():
        count = max(tokens.get(element_id, 0), 1)
        lines = waits.get(element_id) or ["token here"]
        marks[element_id] = replace(
            WAITING, badge=str(count), title=f"{element_id}: waiting - " + "; ".join(lines)
        )
    failed: dict[str, list[str]] = defaultdict(list)
    for incident in records.incidents:
        failed[incident.element_id].append(incident.message)
    for element_id, messages in failed.items():
        marks[element_id] = replace(
            INCIDENT, badge="!", title=f"{element_id}: incident - " + "; ".join(messages)
        )
    return Overlay(marks)


def _event_type(element_type: str | None) -> bool:
    """Events hold a token only while a job (timer) or subscription (message, signal) says so:
    a boundary event is entered with its activity and left without a completion when the
    activity ends, so history alone would show it waiting forever."""
    return element_type is not None and element_type.endswith("Event")


def _waits(records: InstanceRecords) -> dict[str, list[str]]:
    """What each waiting element waits for, in words."""
    waits: dict[str, list[str]] = defaultdict(list)
    for job in records.jobs:
        due = job.due_at.isoformat(timespec="seconds")
        if job.kind == JobKind.TIMER:
            waits[job.element_id].append(f"timer due {due}")
        else:
            waits[job.element_id].append(
                f"job {job.topic or job.kind.value} due {due}, {job.retries_left} retries left"
            )
    for subscription in records.subscriptions:
        key = f" key {subscription.correlation_key!r}" if subscription.correlation_key else ""
        waits[subscription.element_id].append(
            f"{subscription.kind.value} {subscription.name!r}{key}"
        )
    for task in records.tasks:
        who = task.assignee or ", ".join(task.candidate_groups) or "anyone"
        waits[task.element_id].append(f"user task for {who}")
    return waits
