"""Small builders for store tests: an instance, its jobs and checkpoints, at readable times."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from retailflow.model import (
    HistoryEvent,
    HistoryKind,
    Incident,
    Instance,
    InstanceStatus,
    Job,
    JobKind,
    ProcessDefinition,
    Resource,
    Subscription,
    SubscriptionKind,
    UserTask,
)
from retailflow.stores import Checkpoint, Store

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """``seconds`` after the tests' fixed start time."""
    return T0 + timedelta(seconds=seconds)


def resource(name: str = "order.bpmn", content: bytes = b"<definitions/>") -> Resource:
    return Resource(name=name, content=content, content_hash=f"sha256-{hash(content):x}")


def definition(
    process_id: str = "order", version: int = 1, source: Resource | None = None
) -> ProcessDefinition:
    source = source or resource()
    return ProcessDefinition(
        id=f"{process_id}:{version}",
        process_id=process_id,
        version=version,
        name=process_id.title(),
        content_hash=source.content_hash,
        resource_name=source.name,
        resource_hashes=(source.content_hash,),
        deployed_at=at(0),
    )


def instance(
    instance_id: str = "i1",
    *,
    process_id: str = "order",
    business_key: str | None = None,
    started: float = 0,
    status: InstanceStatus = InstanceStatus.RUNNING,
    variables: dict[str, Any] | None = None,
) -> Instance:
    return Instance(
        id=instance_id,
        definition_id=f"{process_id}:1",
        process_id=process_id,
        business_key=business_key,
        status=status,
        started_at=at(started),
        version=1,
        variables=variables if variables is not None else {"order": instance_id},
    )


def job(
    job_id: str,
    instance_id: str = "i1",
    *,
    due: float = 0,
    retries: int = 3,
    kind: JobKind = JobKind.SERVICE,
) -> Job:
    return Job(
        id=job_id,
        instance_id=instance_id,
        kind=kind,
        element_id=f"el-{job_id}",
        due_at=at(due),
        topic="inventory.reserve",
        retries_left=retries,
    )


def subscription(
    subscription_id: str,
    instance_id: str = "i1",
    *,
    name: str = "paid",
    key: str | None = None,
    kind: SubscriptionKind = SubscriptionKind.MESSAGE,
) -> Subscription:
    return Subscription(
        id=subscription_id,
        instance_id=instance_id,
        kind=kind,
        name=name,
        element_id=f"catch-{name}",
        correlation_key=key,
    )


def user_task(
    task_id: str,
    instance_id: str = "i1",
    *,
    created: float = 0,
    assignee: str | None = None,
    groups: tuple[str, ...] = (),
) -> UserTask:
    return UserTask(
        id=task_id,
        instance_id=instance_id,
        element_id=f"task-{task_id}",
        name="Approve",
        created_at=at(created),
        assignee=assignee,
        candidate_groups=groups,
        candidate_users=("ann",),
        form_key="approve.form",
        due_at=at(3600),
        variables={"amount": 120, "lines": [{"sku": "A"}]},
    )


def event(
    instance_id: str = "i1",
    element_id: str = "start",
    *,
    kind: HistoryKind = HistoryKind.ELEMENT_COMPLETED,
    when: float = 0,
    definition_id: str = "order:1",
    variables: dict[str, Any] | None = None,
) -> HistoryEvent:
    return HistoryEvent(
        instance_id=instance_id,
        definition_id=definition_id,
        kind=kind,
        at=at(when),
        element_id=element_id,
        variables=variables or {},
    )


def incident(
    incident_id: str, job_id: str, instance_id: str = "i1", *, created: float = 0
) -> Incident:
    return Incident(
        id=incident_id,
        instance_id=instance_id,
        job_id=job_id,
        element_id=f"el-{job_id}",
        message="warehouse API down",
        created_at=at(created),
    )


def start(store: Store, new: Instance, state: bytes = b"state-1", **sets: Any) -> Instance:
    """Commit a new instance (version 1) with the given wait states; returns what was stored."""
    store.commit(Checkpoint(instance=new, state=state, expected_version=None, **sets))
    return new


def step(store: Store, current: Instance, state: bytes = b"state-n", **sets: Any) -> Instance:
    """Commit the next version of ``current`` with the given sets; returns the new instance."""
    advanced = replace(current, version=current.version + 1, variables=dict(current.variables))
    store.commit(
        Checkpoint(instance=advanced, state=state, expected_version=current.version, **sets)
    )
    return advanced
