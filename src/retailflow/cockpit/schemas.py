"""What the REST API reads and answers, as pydantic models (they make its OpenAPI document).

Variables travel in the variable codec's JSON form (docs/api.md, "Variable types"): plain JSON
for JSON types, tagged objects such as ``{"$date": "2026-12-08"}`` for the others, both ways.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from retailflow.model import (
    Deployment,
    InstanceStatus,
    Job,
)
from retailflow.model.variables import encode

_NAME = Field(min_length=1, max_length=255)
Variables = dict[str, Any]


class _Out(BaseModel):
    """An answer; built from the engine's dataclass of the same fields with ``model_validate``
    (enums answer as their values, variables in the codec's JSON form)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    @field_validator("variables", mode="before", check_fields=False)
    @classmethod
    def _encoded(cls, variables: Any) -> Any:
        return encode(variables)


class DefinitionOut(_Out):
    """One deployed version of a process."""

    id: str
    process_id: str
    version: int
    name: str | None
    resource_name: str
    deployed_at: datetime


class ProcessOut(_Out):
    """A process id with its versions (oldest first) and how many instances it has by status."""

    process_id: str
    name: str | None
    versions: list[DefinitionOut]
    instances: dict[InstanceStatus, int]


class InstanceOut(_Out):
    """An instance and its latest variables."""

    id: str
    definition_id: str
    process_id: str
    business_key: str | None
    status: InstanceStatus
    started_at: datetime
    ended_at: datetime | None
    parent_id: str | None
    version: int
    variables: Variables


class InstancePage(_Out):
    """One page of a search; pass ``next_after`` as ``after`` for the next (``None``: last)."""

    items: list[InstanceOut]
    next_after: str | None


class JobOut(_Out):
    """A handler call or timer waiting to run; ``state`` as of the answer."""

    id: str
    instance_id: str
    kind: str
    element_id: str
    topic: str | None
    due_at: datetime
    retries_left: int
    attempt: int
    state: str
    last_error: str | None

    @classmethod
    def of(cls, job: Job, now: datetime) -> JobOut:
        return cls(
            id=job.id,
            instance_id=job.instance_id,
            kind=job.kind.value,
            element_id=job.element_id,
            topic=job.topic,
            due_at=job.due_at,
            retries_left=job.retries_left,
            attempt=job.attempt,
            state=job.state_at(now).value,
            last_error=job.last_error,
        )


class IncidentOut(_Out):
    """An open incident: a job out of retries, and why."""

    id: str
    instance_id: str
    job_id: str
    element_id: str
    message: str
    created_at: datetime


class SubscriptionOut(_Out):
    """A message or signal an instance waits for."""

    id: str
    kind: str
    name: str
    element_id: str
    correlation_key: str | None


class TaskOut(_Out):
    """An open user task, with who may take it and its form."""

    id: str
    instance_id: str
    element_id: str
    name: str | None
    created_at: datetime
    assignee: str | None
    candidate_groups: list[str]
    candidate_users: list[str]
    form_key: str | None
    due_at: datetime | None
    variables: Variables


class HistoryOut(_Out):
    """One recorded step; ``actor`` is the token holder who took it, if a person did."""

    seq: int | None
    kind: str
    at: datetime
    element_id: str | None
    element_type: str | None
    process_id: str | None
    attempt: int | None
    job_id: str | None
    actor: str | None
    variables: Variables


class InstanceDetail(_Out):
    """An instance and where it waits now: jobs (timers with due times), message and signal
    subscriptions with their keys, open user tasks, and open incidents."""

    instance: InstanceOut
    jobs: list[JobOut]
    subscriptions: list[SubscriptionOut]
    tasks: list[TaskOut]
    incidents: list[IncidentOut]


class DeploymentOut(_Out):
    """What a deployment created and found unchanged, and its warnings."""

    created: list[DefinitionOut]
    unchanged: list[DefinitionOut]
    warnings: list[str]

    @classmethod
    def of(cls, deployment: Deployment) -> DeploymentOut:
        return cls(
            created=[DefinitionOut.model_validate(d) for d in deployment.created],
            unchanged=[DefinitionOut.model_validate(d) for d in deployment.unchanged],
            warnings=[str(finding) for finding in deployment.warnings],
        )


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartIn(_In):
    """Start the latest version of a process."""

    business_key: str | None = Field(default=None, max_length=255)
    variables: Variables = Field(default_factory=dict)


class MessageIn(_In):
    """A message to correlate by name and key; with ``ttl_seconds`` it may wait that long
    for an instance that is not waiting yet."""

    name: str = _NAME
    key: str | None = Field(default=None, max_length=255)
    variables: Variables = Field(default_factory=dict)
    ttl_seconds: float | None = Field(default=None, gt=0, le=10 * 365 * 24 * 3600)


class MessageOut(_Out):
    """The instance the message reached (or started); ``None``: it was buffered."""

    instance: InstanceOut | None


class SignalIn(_In):
    """A signal to broadcast to every instance waiting for it."""

    name: str = _NAME
    variables: Variables = Field(default_factory=dict)


class RetryIn(_In):
    """Retry an incident's job: ``retries`` new runs, after setting ``variables`` if given."""

    retries: int = Field(default=1, ge=1, le=1000)
    variables: Variables = Field(default_factory=dict)


class RetryOut(_Out):
    """How many jobs were given new runs."""

    retried: int


class VariablesIn(_In):
    """Variables to set on a running instance."""

    variables: Variables = Field(min_length=1)


class CompleteIn(_In):
    """The variables a person entered to complete a task."""

    variables: Variables = Field(default_factory=dict)
