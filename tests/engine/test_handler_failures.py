"""How a handler's failures end: a timeout fails the job and it is retried; a transient
failure (the database down for a moment) is retried, not an incident at once; a process going
down gives its job back; an instance cancelled while its handler runs is an expected outcome."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import pytest

from retailflow import (
    HandlerRegistry,
    HandlerTimeoutError,
    InstanceStatus,
    JobState,
    RetailflowError,
    RetryPolicy,
    StoreUnavailableError,
)
from scenario_kit import ROOT, EngineFactory

ONE_TASK = ROOT / "tests" / "conformance" / "c8" / "service_task.bpmn"
PROCESS = "Process_0v3kq1d"
NO_WAIT = RetryPolicy(initial_backoff=timedelta(0))


def test_a_handler_past_its_timeout_fails_the_job_which_is_retried_then_an_incident(
    make_engine: EngineFactory,
) -> None:
    released = threading.Event()
    calls: list[int] = []
    handlers = HandlerRegistry()

    @handlers.handler("inventory.reserve", timeout=0.05)
    def reserve() -> dict[str, Any]:
        calls.append(1)
        released.wait()  # never on time: released only when the test ends
        return {}

    engine = make_engine(handlers, retry_policy=NO_WAIT)
    engine.deploy(ONE_TASK)
    instance = engine.start(PROCESS)
    try:
        engine.run()
    finally:
        released.set()
    assert len(calls) == 3  # the file's retries="3"
    [incident] = engine.incidents(instance=instance.id)
    assert "did not finish within its timeout of 0.05 s" in incident.message
    assert engine.instance(instance.id).status == InstanceStatus.RUNNING


def test_a_handler_within_its_timeout_completes(make_engine: EngineFactory) -> None:
    handlers = HandlerRegistry()
    handlers.register("inventory.reserve", lambda: {"reserved": True}, timeout=60)
    engine = make_engine(handlers)
    engine.deploy(ONE_TASK)
    instance = engine.start(PROCESS)
    engine.run()
    assert engine.instance(instance.id).variables["stock_reserved"] is True


async def _slow_async() -> dict[str, Any]:
    import asyncio

    await asyncio.Event().wait()
    return {}


def test_an_async_handler_past_its_timeout_is_cancelled_and_retried(
    make_engine: EngineFactory,
) -> None:
    handlers = HandlerRegistry()
    handlers.register("inventory.reserve", _slow_async, timeout=0.05)
    engine = make_engine(handlers, retry_policy=NO_WAIT)
    engine.deploy(ONE_TASK)
    instance = engine.start(PROCESS)
    engine.run()
    [incident] = engine.incidents(instance=instance.id)
    assert "timeout" in incident.message


@pytest.mark.parametrize(
    "transient",
    [
        StoreUnavailableError("the back office is down"),
        HandlerTimeoutError("the carrier API timed out"),
    ],
)
def test_a_transient_failure_inside_a_handler_is_retried_not_an_incident(
    make_engine: EngineFactory, transient: RetailflowError
) -> None:
    attempts: list[int] = []

    def reserve() -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            raise transient
        return {"reserved": True}

    handlers = HandlerRegistry()
    handlers.register("inventory.reserve", reserve)
    engine = make_engine(handlers, retry_policy=NO_WAIT)
    engine.deploy(ONE_TASK)
    instance = engine.start(PROCESS)
    engine.run()
    assert len(attempts) == 2
    assert engine.incidents(instance=instance.id) == []
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED


def test_a_non_retryable_error_is_an_incident_at_once(make_engine: EngineFactory) -> None:
    attempts: list[int] = []

    def reserve() -> None:
        attempts.append(1)
        raise RetailflowError("the SKU does not exist")

    handlers = HandlerRegistry()
    handlers.register("inventory.reserve", reserve)
    engine = make_engine(handlers, retry_policy=NO_WAIT)
    engine.deploy(ONE_TASK)
    instance = engine.start(PROCESS)
    engine.run()
    assert len(attempts) == 1
    assert [i.message for i in engine.incidents(instance=instance.id)] == ["the SKU does not exist"]


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_a_handler_stopping_the_process_gives_its_job_back_at_once(
    make_engine: EngineFactory, stop: type[BaseException]
) -> None:
    def reserve() -> None:
        raise stop()

    handlers = HandlerRegistry()
    handlers.register("inventory.reserve", reserve)
    engine = make_engine(handlers)
    engine.deploy(ONE_TASK)
    instance = engine.start(PROCESS)
    with pytest.raises(stop):
        engine.run()
    [job] = engine.jobs(instance=instance.id)
    assert job.lock_owner is None
    assert job.state_at(engine.clock.now()) == JobState.DUE


def test_cancelling_an_instance_while_its_handler_runs_is_no_failure(
    make_engine: EngineFactory, caplog: pytest.LogCaptureFixture
) -> None:
    handlers = HandlerRegistry()
    engine = make_engine(handlers)

    def reserve() -> dict[str, Any]:
        engine.cancel(instance.id)  # an operator cancels while the handler works
        return {"reserved": True}

    handlers.register("inventory.reserve", reserve)
    engine.deploy(ONE_TASK)
    instance = engine.start(PROCESS)
    with caplog.at_level(logging.INFO, logger="retailflow"):
        engine.run()
    assert engine.instance(instance.id).status == InstanceStatus.CANCELLED
    assert engine.incidents(instance=instance.id) == []
    assert engine.jobs(instance=instance.id) == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text
