"""What a handler learns about its job, and the idempotency key that survives retries."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from retailflow.handlers import HandlerContext
from retailflow.model import Instance, InstanceStatus, Job, JobKind, RetailflowError

NOW = datetime(2024, 5, 1, tzinfo=UTC)
INSTANCE = Instance(
    id="inst-1",
    definition_id="order_fulfilment:2",
    process_id="order_fulfilment",
    business_key="SO-1001",
    status=InstanceStatus.RUNNING,
    started_at=NOW,
)


def service_job(attempt: int) -> Job:
    return Job(
        id="task-9",
        instance_id="inst-1",
        kind=JobKind.SERVICE,
        element_id="reserve_stock",
        due_at=NOW,
        topic="inventory.reserve",
        attempt=attempt,
    )


def test_the_idempotency_key_is_instance_element_and_job() -> None:
    context = HandlerContext.for_job(service_job(1), INSTANCE)
    assert context.idempotency_key == "inst-1:reserve_stock:task-9"
    assert HandlerContext.idempotency_key_for("inst-1", "reserve_stock", "task-9") == (
        context.idempotency_key
    )


def test_the_idempotency_key_is_the_same_on_every_retry_of_a_job() -> None:
    first = HandlerContext.for_job(service_job(1), INSTANCE)
    third = HandlerContext.for_job(service_job(3), INSTANCE)
    assert (first.attempt, third.attempt) == (1, 3)
    assert first.idempotency_key == third.idempotency_key


def test_the_idempotency_key_cannot_be_passed_in_or_changed() -> None:
    context = HandlerContext.for_job(service_job(1), INSTANCE)
    with pytest.raises(TypeError):
        HandlerContext(
            **{
                f.name: getattr(context, f.name)  # type: ignore[arg-type]
                for f in dataclasses.fields(HandlerContext)
            }
        )
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.idempotency_key = "mine"  # type: ignore[misc]


def test_a_context_for_a_job_carries_the_instance_and_task_details() -> None:
    context = HandlerContext.for_job(service_job(2), INSTANCE, headers={"warehouse": "north"})
    assert (
        context.instance_id,
        context.business_key,
        context.process_id,
        context.definition_id,
        context.element_id,
        context.job_id,
        context.topic,
    ) == (
        "inst-1",
        "SO-1001",
        "order_fulfilment",
        "order_fulfilment:2",
        "reserve_stock",
        "task-9",
        "inventory.reserve",
    )
    assert dict(context.headers) == {"warehouse": "north"}


def test_headers_are_a_read_only_copy() -> None:
    headers = {"warehouse": "north"}
    context = HandlerContext.for_job(service_job(1), INSTANCE, headers=headers)
    headers["warehouse"] = "south"
    assert context.headers["warehouse"] == "north"
    with pytest.raises(TypeError):
        context.headers["warehouse"] = "east"  # type: ignore[index]


def test_a_timer_job_has_no_handler_context() -> None:
    timer = Job(
        id="timer-1", instance_id="inst-1", kind=JobKind.TIMER, element_id="wait_24h", due_at=NOW
    )
    with pytest.raises(RetailflowError, match=r"job 'timer-1' at element 'wait_24h'.*'inst-1'"):
        HandlerContext.for_job(timer, INSTANCE)
