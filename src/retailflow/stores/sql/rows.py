"""Conversion between table rows and retailflow's dataclasses: one pair of functions per table.

Rows come back as SQLAlchemy ``Row`` objects (attribute access by column name) and go in as plain
dicts keyed by column name, which Core's ``insert`` executes as one batched statement.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

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
from retailflow.stores.errors import require_aware

Values = dict[str, Any]
_MICROSECOND = timedelta(microseconds=1)


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
    """The ``instances`` columns a step can change, but its status (set only when it changes,
    see ``store``). The others (process, business key, start, parent) are written once, when
    the instance starts: leaving them out of the UPDATE keeps SQLite from rewriting the
    indexes on them at every step."""
    return {
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


# History is most of what a finished instance leaves behind (issue 14: at most 2,000 bytes per
# completed instance), so a row stores codes where a name repeats on every row. The codes are
# persisted: append new ones, never renumber. ``0`` and ``1`` cost SQLite no byte at all, so the
# most frequent kinds have them.
_KIND_CODES: dict[HistoryKind, int] = {
    HistoryKind.ELEMENT_COMPLETED: 0,
    HistoryKind.SEQUENCE_FLOW_TAKEN: 1,
    HistoryKind.ELEMENT_ENTERED: 2,
    HistoryKind.INSTANCE_STARTED: 3,
    HistoryKind.INSTANCE_COMPLETED: 4,
    HistoryKind.INSTANCE_CANCELLED: 5,
    HistoryKind.JOB_FAILED: 6,
    HistoryKind.BPMN_ERROR_THROWN: 7,
    HistoryKind.INCIDENT_OPENED: 8,
    HistoryKind.INCIDENT_RESOLVED: 9,
    HistoryKind.DECISION_EVALUATED: 10,
    HistoryKind.MESSAGE_CORRELATED: 11,
    HistoryKind.SIGNAL_RECEIVED: 12,
    HistoryKind.TIMER_FIRED: 13,
    HistoryKind.LISTENER_INVOKED: 14,
    HistoryKind.VARIABLES_SET: 15,
}
KINDS_BY_CODE: dict[int, HistoryKind] = {code: kind for kind, code in _KIND_CODES.items()}
# BPMN tags by a code of digits, which no XML name starts with: a tag not listed here (an
# extension's) is stored as it is, and the two never meet.
_TAGS = (
    "sequenceFlow",
    "serviceTask",
    "userTask",
    "exclusiveGateway",
    "startEvent",
    "endEvent",
    "task",
    "parallelGateway",
    "scriptTask",
    "businessRuleTask",
    "inclusiveGateway",
    "eventBasedGateway",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "subProcess",
    "callActivity",
    "sendTask",
    "receiveTask",
    "manualTask",
    "transaction",
    "complexGateway",
    "adHocSubProcess",
)
_TAG_CODES = {tag: str(code) for code, tag in enumerate(_TAGS)}
_TAGS_BY_CODE = {code: tag for tag, code in _TAG_CODES.items()}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A job id (the waiting element's task id) is a UUID in its text form, sometimes with a suffix
# (a listener's ``:event``): stored as a tag byte, the UUID's 16 bytes and the suffix; any other
# id as the text tag and its UTF-8.
_TEXT_ID, _DASHED_UUID, _HEX_UUID = b"\x00", b"\x01", b"\x02"
# ``process_id`` as stored: NULL is the instance's process (nearly every row), this marks a row
# without one (the instance's own rows).
NO_PROCESS = ""


def kind_code(kind: HistoryKind) -> int:
    """The stored code of a history kind."""
    return _KIND_CODES[kind]


def element_type_code(element_type: str | None) -> str | None:
    """A BPMN tag as stored: its code when it has one."""
    if element_type is None:
        return None
    return _TAG_CODES.get(element_type, element_type)


def element_type_from_code(stored: str | None) -> str | None:
    """The BPMN tag ``element_type_code`` stored."""
    if stored is None:
        return None
    return _TAGS_BY_CODE.get(stored, stored)


def micros(moment: datetime) -> int:
    """An aware time as whole microseconds since the Unix epoch (UTC): 8 bytes, exact."""
    return (require_aware(moment) - _EPOCH) // _MICROSECOND


def from_micros(stored: int) -> datetime:
    """The UTC time ``micros`` stored."""
    return _EPOCH + timedelta(microseconds=stored)


def compact_id(job_id: str | None) -> bytes | None:
    """A job id in the fewest bytes that give it back exactly (``id_from_compact``)."""
    if job_id is None:
        return None
    for tag, length in ((_DASHED_UUID, 36), (_HEX_UUID, 32)):
        head = job_id[:length]
        if len(head) == length and _canonical(head) == head:
            return tag + UUID(head).bytes + job_id[length:].encode()
    return _TEXT_ID + job_id.encode()


def id_from_compact(stored: bytes | None) -> str | None:
    """The job id ``compact_id`` stored."""
    if stored is None:
        return None
    tag, rest = stored[:1], bytes(stored[1:])
    if tag == _TEXT_ID:
        return rest.decode()
    uuid = UUID(bytes=rest[:16])
    head = str(uuid) if tag == _DASHED_UUID else uuid.hex
    return head + rest[16:].decode()


def _canonical(text: str) -> str | None:
    """``text`` as ``UUID`` writes it back (dashed or hex, as given), or ``None``."""
    try:
        uuid = UUID(text)
    except ValueError:
        return None
    return str(uuid) if "-" in text else uuid.hex


def history_values(event: HistoryEvent) -> Values:
    """The parameters of ``store``'s history insert: ``seq`` is left to the database, and the
    instance's number, definition and process are resolved against its row there."""
    return {
        "b_instance": event.instance_id,
        "b_definition": event.definition_id,
        "b_process": NO_PROCESS if event.process_id is None else event.process_id,
        "b_kind": _KIND_CODES[event.kind],
        "b_at": micros(event.at),
        "b_element_id": event.element_id,
        "b_element_type": element_type_code(event.element_type),
        "b_attempt": event.attempt,
        "b_job_id": compact_id(event.job_id),
        "b_variables": event.variables or None,
        "b_actor": event.actor,
    }


def history_from_row(row: Row[Any]) -> HistoryEvent:
    """A ``HistoryEvent`` (with its ``seq``) from ``store``'s history read: a history row with
    its instance's id, definition and process beside it."""
    return HistoryEvent(
        instance_id=row.instance_id,
        definition_id=row.definition_id,
        kind=KINDS_BY_CODE[row.kind],
        at=from_micros(row.at),
        element_id=row.element_id,
        element_type=element_type_from_code(row.element_type),
        attempt=row.attempt,
        job_id=id_from_compact(row.job_id),
        variables=row.variables or {},
        process_id=stored_process(row.process_id, row.instance_process_id),
        seq=row.seq,
        actor=row.actor,
    )


def stored_process(stored: str | None, instance_process_id: str | None) -> str | None:
    """A history row's process: NULL is its instance's, ``NO_PROCESS`` none."""
    if stored is None:
        return instance_process_id
    return None if stored == NO_PROCESS else stored


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
