"""The errors every store raises, worded once so that both stores tell the user the same thing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from retailflow.model import ConcurrentUpdateError, NotFoundError, RetailflowError


def resource_not_found(content_hash: str) -> NotFoundError:
    """No resource has that content hash."""
    return NotFoundError(
        f"no deployed resource has content hash {content_hash}; deploy the file again"
    )


def definition_not_found(definition_id: str) -> NotFoundError:
    """No definition has that id."""
    return NotFoundError(
        f"no process definition {definition_id!r} is deployed; engine.definitions() lists what is"
    )


def definitions_exist(definition_ids: Iterable[str]) -> ConcurrentUpdateError:
    """A deployment tried to create versions that another one created first."""
    return ConcurrentUpdateError(
        f"definition(s) {', '.join(definition_ids)} already exist: another deployment created "
        "the same version; deploy again to get the next version"
    )


def instance_not_found(instance_id: str) -> NotFoundError:
    """No instance has that id."""
    return NotFoundError(
        f"no instance {instance_id}; engine.instances() (or `retailflow "
        "instances`) lists the existing ones"
    )


def instance_exists(instance_id: str) -> ConcurrentUpdateError:
    """A checkpoint for a new instance used an id that is taken."""
    return ConcurrentUpdateError(
        f"instance {instance_id} already exists: it was started twice; use a new instance id"
    )


def stale_version(instance_id: str, stored: int, expected: int) -> ConcurrentUpdateError:
    """A checkpoint was computed from a version that is no longer the stored one."""
    return ConcurrentUpdateError(
        f"instance {instance_id} is at version {stored}, but this change was computed from "
        f"version {expected}; load the instance again and redo the step"
    )


def messages_taken(message_ids: Iterable[str]) -> ConcurrentUpdateError:
    """A step delivered buffered messages that another step consumed first."""
    return ConcurrentUpdateError(
        f"buffered message(s) {', '.join(message_ids)} were consumed by another instance "
        "first; redo the step without them"
    )


def message_arrived(name: str, correlation_key: str | None) -> ConcurrentUpdateError:
    """A step opened a subscription for a message that was buffered meanwhile."""
    return ConcurrentUpdateError(
        f"message '{name}' with key {correlation_key!r} was buffered while this step opened a "
        "subscription for it; redo the step to deliver it"
    )


def job_not_found(job_id: str) -> NotFoundError:
    """No job has that id."""
    return NotFoundError(
        f"no job {job_id}: its instance moved on or was cancelled, or the id is "
        "wrong; engine.jobs() lists the existing ones"
    )


def lock_lost(job_id: str, owner: str, holder: str | None) -> ConcurrentUpdateError:
    """A worker reported on a job whose lock it no longer holds."""
    return ConcurrentUpdateError(
        f"job {job_id} is no longer locked by {owner} (lock owner now: {holder}); its lease "
        "expired, so the outcome was not recorded; lengthen the lease if handlers run longer"
    )


def user_task_not_found(task_id: str) -> NotFoundError:
    """No open user task has that id."""
    return NotFoundError(
        f"no open user task {task_id}: it was completed or cancelled, or the id "
        "is wrong; engine.tasks() lists the open ones"
    )


def require_aware(value: datetime) -> datetime:
    """``value`` itself, if it carries a time zone: a naive time's zone would be a guess, and a
    wrong guess fires timers hours late."""
    if value.tzinfo is None:
        raise ValueError(
            f"naive datetime {value.isoformat()} given to the store; pass a "
            "timezone-aware datetime, e.g. datetime.now(UTC)"
        )
    return value


def token_exists(name: str) -> RetailflowError:
    """A token with that name is stored already: names say who acted, so they stay unique."""
    return RetailflowError(
        f"a token named {name!r} exists already; choose another name (the name is recorded "
        "as who did each action)"
    )
