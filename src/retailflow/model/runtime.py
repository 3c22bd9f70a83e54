"""The wait states of running instances: jobs, subscriptions, user tasks, and incidents."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    """Where a job stands at a given moment, as operators ask about it."""

    DUE = "due"
    SCHEDULED = "scheduled"
    CLAIMED = "claimed"
    FAILED = "failed"


class JobKind(StrEnum):
    """What a job does when it runs."""

    SERVICE = "service"
    TIMER = "timer"
    ACTIVATION = "activation"
    """An element whose wait state failed to set up (a timer's due time, a job type written as
    an expression): it holds the element's incident, and running it (after ``retry``) sets
    the wait state up again."""


@dataclass(slots=True)
class Job:
    """Work a worker (or ``Engine.run``) executes: a handler call or a due timer.

    ``id`` is the engine's task id of the waiting element, so the job is the same row for every
    attempt. ``retries_left`` counts down on failures; at zero the job stops being due and an
    incident is opened.
    """

    id: str
    instance_id: str
    kind: JobKind
    element_id: str
    due_at: datetime
    topic: str | None = None
    retries_left: int = 3
    attempt: int = 0
    lock_owner: str | None = None
    lock_expires_at: datetime | None = None
    last_error: str | None = None

    def state_at(self, now: datetime) -> JobState:
        """Failed (out of retries, an incident is open), claimed (a worker's lease runs),
        scheduled (due later) or due."""
        if self.retries_left <= 0:
            return JobState.FAILED
        if (
            self.lock_owner is not None
            and self.lock_expires_at is not None
            and self.lock_expires_at > now
        ):
            return JobState.CLAIMED
        return JobState.SCHEDULED if self.due_at > now else JobState.DUE


class SubscriptionKind(StrEnum):
    """What an instance waits for from outside."""

    MESSAGE = "message"
    SIGNAL = "signal"


@dataclass(frozen=True, slots=True)
class Subscription:
    """An instance waiting for a message (name + correlation key) or a signal (name)."""

    id: str
    instance_id: str
    kind: SubscriptionKind
    name: str
    element_id: str
    correlation_key: str | None = None


@dataclass(frozen=True, slots=True)
class BufferedMessage:
    """A message that found no subscription and waits, until ``expires_at``, for one to open."""

    id: str
    name: str
    correlation_key: str | None
    variables: dict[str, Any]
    expires_at: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UserTask:
    """A task waiting for a person, with the Modeler's assignment and form settings."""

    id: str
    instance_id: str
    element_id: str
    name: str | None
    created_at: datetime
    assignee: str | None = None
    candidate_groups: tuple[str, ...] = ()
    candidate_users: tuple[str, ...] = ()
    form_key: str | None = None
    due_at: datetime | None = None
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Incident:
    """A job that exhausted its retries (or cannot succeed); the instance waits for ``retry``."""

    id: str
    instance_id: str
    job_id: str
    element_id: str
    message: str
    created_at: datetime
