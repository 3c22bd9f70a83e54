"""Conversion between table rows and retailflow's dataclasses: one pair of functions per table.

Rows come back as SQLAlchemy ``Row`` objects (attribute access by column name) and go in as plain
dicts keyed by column name, which Core's ``insert`` executes as one batched statement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from retailflow.model import (
    ApiToken,
    BufferedMessage,
    HistoryEvent,
    HistoryKind,
    Incident,
    Instance,
    InstanceStatus,
    Job,
    JobKind,
    ProcessDefinition,
    Resource,
    Role,
    Subscription,
    SubscriptionKind,
    UserTask,
)

Values = dict[str, Any]


def resource_values(resource: Resource) -> Values:
    """A ``resources`` row."""
    return {
        "content_hash": resource.content_hash,
        "name": resource.name,
        "content": resource.content,
    }


def resource_from_row(row: Row[Any]) -> Resource:
    """A ``Resource`` from a ``resources`` row."""
    return Resource(name=row.name, content=row.content, content_hash=row.content_hash)


def definition_values(definition: ProcessDefinition) -> Values:
    """A ``definitions`` row."""
    return {
        "id": definition.id,
        "process_id": definition.process_id,
        "version": definition.version,
        "name": definition.name,
        "content_hash": definition.content_hash,
        "resource_name": definition.resource_name,
        "resource_hashes": list(definition.resource_hashes),
        "deployed_at": definition.deployed_at,
    }


def definition_from_row(row: Row[Any]) -> ProcessDefinition:
    """A ``ProcessDefinition`` from a ``definitions`` row."""
    return ProcessDefinition(
        id=row.id,
        process_id=row.process_id,
        version=row.version,
        name=row.name,
        content_hash=row.content_hash,
        resource_name=row.resource_name,
        resource_hashes=tuple(row.resource_hashes),
        deployed_at=row.deployed_at,
    )


def instance_values(instance: Instance, state: bytes) -> Values:
    """An ``instances`` row, state included."""
    return {
        "id": instance.id,
        "definition_id": instance.definition_id,
        "process_id": instance.process_id,
        "business_key": instance.business_key,
        "status": instance.status.value,
        "started_at": instance.started_at,
        "ended_at": instance.ended_at,
        "parent_id": instance.parent_id,
        "version": instance.version,
        "variables": instance.variables,
        "state": state,
    }


def instance_step_values(instance: Instance, state: bytes) -> Values:
    """The ``instances`` columns a step can change. The others (process, business key, start,
    parent) are written once, when the instance starts: leaving them out of the UPDATE keeps
    SQLite from rewriting the indexes on them at every step."""
    return {
        "status": instance.status.value,
        "ended_at": instance.ended_at,
        "version": instance.version,
        "variables": instance.variables,
        "state": state,
    }


def instance_from_row(row: Row[Any]) -> Instance:
    """An ``Instance`` from an ``instances`` row (the state column is not needed)."""
    return Instance(
        id=row.id,
        definition_id=row.definition_id,
        process_id=row.process_id,
        business_key=row.business_key,
        status=InstanceStatus(row.status),
        started_at=row.started_at,
        version=row.version,
        ended_at=row.ended_at,
        parent_id=row.parent_id,
        variables=row.variables,
    )


def job_values(job: Job) -> Values:
    """A ``jobs`` row."""
    return {
        "id": job.id,
        "instance_id": job.instance_id,
        "kind": job.kind.value,
        "element_id": job.element_id,
        "topic": job.topic,
        "due_at": job.due_at,
        "retries_left": job.retries_left,
        "attempt": job.attempt,
        "lock_owner": job.lock_owner,
        "lock_expires_at": job.lock_expires_at,
        "last_error": job.last_error,
    }


def job_from_row(row: Row[Any]) -> Job:
    """A ``Job`` from a ``jobs`` row."""
    return Job(
        id=row.id,
        instance_id=row.instance_id,
        kind=JobKind(row.kind),
        element_id=row.element_id,
        due_at=row.due_at,
        topic=row.topic,
        retries_left=row.retries_left,
        attempt=row.attempt,
        lock_owner=row.lock_owner,
        lock_expires_at=row.lock_expires_at,
        last_error=row.last_error,
    )


def subscription_values(subscription: Subscription) -> Values:
    """A ``subscriptions`` row."""
    return {
        "id": subscription.id,
        "instance_id": subscription.instance_id,
        "kind": subscription.kind.value,
        "name": subscription.name,
        "element_id": subscription.element_id,
        "correlation_key": subscription.correlation_key,
    }


def subscription_from_row(row: Row[Any]) -> Subscription:
    """A ``Subscription`` from a ``subscriptions`` row."""
    return Subscription(
        id=row.id,
        instance_id=row.instance_id,
        kind=SubscriptionKind(row.kind),
        name=row.name,
        element_id=row.element_id,
        correlation_key=row.correlation_key,
    )


def message_values(message: BufferedMessage) -> Values:
    """A ``buffered_messages`` row."""
    return {
        "id": message.id,
        "name": message.name,
        "correlation_key": message.correlation_key,
        "variables": message.variables,
        "expires_at": message.expires_at,
        "created_at": message.created_at,
    }


def message_from_row(row: Row[Any]) -> BufferedMessage:
    """A ``BufferedMessage`` from a ``buffered_messages`` row."""
    return BufferedMessage(
        id=row.id,
        name=row.name,
        correlation_key=row.correlation_key,
        variables=row.variables,
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


def user_task_values(task: UserTask) -> Values:
    """A ``user_tasks`` row (its candidate groups also go to ``user_task_groups``)."""
    return {
        "id": task.id,
        "instance_id": task.instance_id,
        "element_id": task.element_id,
        "name": task.name,
        "created_at": task.created_at,
        "assignee": task.assignee,
        "candidate_groups": list(task.candidate_groups),
        "candidate_users": list(task.candidate_users),
        "form_key": task.form_key,
        "due_at": task.due_at,
        "variables": task.variables,
    }


def user_task_group_values(task: UserTask) -> list[Values]:
    """The ``user_task_groups`` rows of one task."""
    return [{"group_name": group, "task_id": task.id} for group in set(task.candidate_groups)]


def user_task_from_row(row: Row[Any]) -> UserTask:
    """A ``UserTask`` from a ``user_tasks`` row."""
    return UserTask(
        id=row.id,
        instance_id=row.instance_id,
        element_id=row.element_id,
        name=row.name,
        created_at=row.created_at,
        assignee=row.assignee,
        candidate_groups=tuple(row.candidate_groups),
        candidate_users=tuple(row.candidate_users),
        form_key=row.form_key,
        due_at=row.due_at,
        variables=row.variables,
    )


def incident_values(incident: Incident) -> Values:
    """An open ``incidents`` row."""
    return {
        "id": incident.id,
        "instance_id": incident.instance_id,
        "job_id": incident.job_id,
        "element_id": incident.element_id,
        "message": incident.message,
        "created_at": incident.created_at,
        "resolved_at": None,
    }


def incident_from_row(row: Row[Any]) -> Incident:
    """An ``Incident`` from an ``incidents`` row."""
    return Incident(
        id=row.id,
        instance_id=row.instance_id,
        job_id=row.job_id,
        element_id=row.element_id,
        message=row.message,
        created_at=row.created_at,
    )


def history_values(event: HistoryEvent) -> Values:
    """A ``history`` row; ``seq`` is left to the database."""
    return {
        "instance_id": event.instance_id,
        "definition_id": event.definition_id,
        "kind": event.kind.value,
        "at": event.at,
        "element_id": event.element_id,
        "element_type": event.element_type,
        "attempt": event.attempt,
        "job_id": event.job_id,
        "variables": event.variables,
        "process_id": event.process_id,
        "actor": event.actor,
    }


def history_from_row(row: Row[Any]) -> HistoryEvent:
    """A ``HistoryEvent`` (with its ``seq``) from a ``history`` row."""
    return HistoryEvent(
        instance_id=row.instance_id,
        definition_id=row.definition_id,
        kind=HistoryKind(row.kind),
        at=row.at,
        element_id=row.element_id,
        element_type=row.element_type,
        attempt=row.attempt,
        job_id=row.job_id,
        variables=row.variables,
        process_id=row.process_id,
        seq=row.seq,
        actor=row.actor,
    )


def token_values(token: ApiToken) -> Values:
    """An ``api_tokens`` row."""
    return {
        "name": token.name,
        "role": token.role.value,
        "token_hash": token.token_hash,
        "created_at": token.created_at,
    }


def token_from_row(row: Row[Any]) -> ApiToken:
    """An ``ApiToken`` from an ``api_tokens`` row."""
    return ApiToken(
        name=row.name, role=Role(row.role), token_hash=row.token_hash, created_at=row.created_at
    )
