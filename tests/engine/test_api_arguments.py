"""What the public calls do with arguments of the wrong shape: a retailflow error that says what
to pass, never a raw TypeError, AttributeError or OverflowError, and the same answer on every
store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from retailflow import NotFoundError, RetailflowError, VariableTypeError
from scenario_kit import FIXTURES, EngineFactory, passed


def test_a_numeric_correlation_key_finds_the_text_key_on_every_store(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine()
    engine.deploy(FIXTURES / "awaiting_payment.bpmn", require_handlers=False)
    order = engine.start("awaiting_payment", variables={"order_id": 123})
    engine.correlate("paid", key=123)  # type: ignore[arg-type]
    assert "payment_received" in passed(engine, order.id)


@pytest.mark.parametrize("ttl", [timedelta(seconds=-5), timedelta(0), timedelta.max, 5])
def test_a_ttl_that_is_not_a_positive_timedelta_is_refused(
    make_engine: EngineFactory, ttl: object
) -> None:
    engine = make_engine()
    engine.deploy(FIXTURES / "awaiting_payment.bpmn", require_handlers=False)
    with pytest.raises(RetailflowError, match="ttl must be a positive timedelta"):
        engine.correlate("paid", key="SO-1", ttl=ttl)  # type: ignore[arg-type]


def test_variables_that_are_no_mapping_and_a_task_that_is_no_id_are_refused_by_name(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine()
    engine.deploy(FIXTURES / "awaiting_payment.bpmn", require_handlers=False)
    with pytest.raises(VariableTypeError, match="variables are a mapping"):
        engine.start("awaiting_payment", variables=[("order_id", 1)])  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="expected an id"):
        engine.complete_task(None)  # type: ignore[arg-type]
