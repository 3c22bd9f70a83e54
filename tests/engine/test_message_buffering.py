"""Buffered messages meeting the instances that wait for them, in each interleaving that once
lost or doubled a message, made certain on every store: one engine's store call is followed,
before it returns, by another engine's whole operation.

tests/engine/test_message_races.py checks the same promises with real processes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, insert

from retailflow import Engine, HandlerRegistry, HistoryKind, InstanceStatus
from retailflow.model import BufferedMessage
from retailflow.stores import Store
from retailflow.stores.sql.rows import message_values
from retailflow.stores.sql.schema import buffered_messages
from scenario_kit import FIXTURES, EngineFactory

TTL = timedelta(minutes=10)
ORDER = {"order_id": "SO-1"}


class Interleaved:
    """A store that runs ``meanwhile`` once, right after the first call of ``method``: another
    engine acts between this engine's read and its write."""

    def __init__(self, store: Store, method: str, meanwhile: Callable[[], object]) -> None:
        self._store = store
        self._method = method
        self._meanwhile: Callable[[], object] | None = meanwhile

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if name != self._method:
            return found

        def then_meanwhile(*args: Any, **kwargs: Any) -> Any:
            result = found(*args, **kwargs)
            if self._meanwhile is not None:
                meanwhile, self._meanwhile = self._meanwhile, None
                meanwhile()
            return result

        return then_meanwhile


def payment_handlers() -> HandlerRegistry:
    registry = HandlerRegistry()
    registry.register("test.ship", lambda: {"shipped": True})
    return registry


def deployed(make_engine: EngineFactory) -> Engine:
    engine = make_engine(payment_handlers())
    engine.deploy(FIXTURES / "awaiting_payment.bpmn")
    return engine


def interleaved(
    make_engine: EngineFactory, engine: Engine, method: str, meanwhile: Callable[[], object]
) -> Engine:
    """A second engine on ``engine``'s store, with ``meanwhile`` after its first ``method``."""
    return make_engine(payment_handlers(), store=Interleaved(engine.store, method, meanwhile))


def paid(engine: Engine, instance_id: str) -> bool:
    return any(
        event.kind == HistoryKind.ELEMENT_COMPLETED and event.element_id == "payment_received"
        for event in engine.history(instance_id)
    )


def test_a_payment_buffered_as_its_order_starts_wakes_the_order(make_engine: EngineFactory) -> None:
    engine = deployed(make_engine)
    # The start reads the buffer (empty), then the payment finds no subscription and is
    # buffered, then the start commits its subscription.
    starter = interleaved(
        make_engine,
        engine,
        "take_buffered_messages",
        lambda: engine.correlate("paid", key="SO-1", ttl=TTL, variables={"amount": 5}),
    )

    order = starter.start("awaiting_payment", variables=ORDER)

    assert paid(engine, order.id)
    assert engine.instance(order.id).variables["amount"] == 5
    assert engine.subscriptions(instance=order.id) == []
    assert engine.store.take_buffered_messages("paid", "SO-1", engine.clock.now()) == []


def test_a_payment_that_found_no_order_wakes_the_order_that_started_meanwhile(
    make_engine: EngineFactory,
) -> None:
    engine = deployed(make_engine)
    started: list[str] = []
    # The payment finds no subscription, then the order starts (buffer empty) and subscribes,
    # then the payment would be buffered.
    payer = interleaved(
        make_engine,
        engine,
        "find_subscriptions",
        lambda: started.append(engine.start("awaiting_payment", variables=ORDER).id),
    )

    woken = payer.correlate("paid", key="SO-1", ttl=TTL)

    assert woken is not None and [woken.id] == started
    assert paid(engine, woken.id)
    assert engine.store.take_buffered_messages("paid", "SO-1", engine.clock.now()) == []


def test_one_buffered_payment_wakes_one_of_two_orders_that_saw_it(
    make_engine: EngineFactory,
) -> None:
    engine = deployed(make_engine)
    engine.correlate("paid", key="SO-1", ttl=TTL)
    first: list[str] = []
    # Both orders read the buffered payment; the other one commits first.
    starter = interleaved(
        make_engine,
        engine,
        "take_buffered_messages",
        lambda: first.append(engine.start("awaiting_payment", variables=ORDER).id),
    )

    second = starter.start("awaiting_payment", variables=ORDER)

    assert paid(engine, first[0]) and not paid(engine, second.id)
    assert [s.element_id for s in engine.subscriptions(instance=second.id)] == ["payment_received"]
    assert engine.instance(second.id).status == InstanceStatus.RUNNING
    assert engine.correlate("paid", key="SO-1") is not None
    assert paid(engine, second.id)


def test_one_buffered_payment_wakes_one_of_two_orders_whose_jobs_reach_it_together(
    make_engine: EngineFactory,
) -> None:
    # The same race one step later, where a job's completion moves each order to the catch.
    registry = HandlerRegistry()
    for topic in ("inventory.reserve", "inventory.release", "orders.ship", "crm.notify_customer"):
        registry.register(topic, lambda: {})
    engine = make_engine(registry)
    engine.deploy(FIXTURES / "order_fulfilment_c8.bpmn")
    orders = [engine.start("order_fulfilment_c8", variables=ORDER) for _ in range(2)]
    engine.correlate("payment_received", key="SO-1", ttl=TTL)
    now = engine.clock.now()
    first, second = engine.store.claim_due_jobs(
        now=now, owner=engine.worker_id, lease_until=now + TTL, limit=2
    )
    other = make_engine(
        registry,
        store=Interleaved(
            engine.store, "take_buffered_messages", lambda: engine.execute_job(first)
        ),
        worker_id=engine.worker_id,
    )

    other.execute_job(second)

    waiting = [order.id for order in orders if engine.subscriptions(instance=order)]
    assert len(waiting) == 1
    assert sorted(len(engine.tasks(instance=order)) for order in orders) == [0, 1]
    assert engine.store.take_buffered_messages("payment_received", "SO-1", now) == []


def test_a_payment_whose_order_another_payment_woke_first_is_buffered(
    make_engine: EngineFactory,
) -> None:
    engine = deployed(make_engine)
    order = engine.start("awaiting_payment", variables=ORDER)
    # Both payments find the order waiting; the other one is delivered first.
    payer = interleaved(
        make_engine,
        engine,
        "find_subscriptions",
        lambda: engine.correlate("paid", key="SO-1", variables={"n": 1}),
    )

    assert payer.correlate("paid", key="SO-1", variables={"n": 2}, ttl=TTL) is None

    assert engine.instance(order.id).variables["n"] == 1
    [kept] = engine.store.take_buffered_messages("paid", "SO-1", engine.clock.now())
    assert kept.variables == {"n": 2}


def test_run_wakes_an_order_an_older_version_left_waiting_beside_its_payment(
    make_engine: EngineFactory, store_url: str | None
) -> None:
    if store_url is None:
        pytest.skip("an in-memory store holds nothing an older version wrote")
    engine = deployed(make_engine)
    order = engine.start("awaiting_payment", variables=ORDER)
    # What older versions could leave behind: the payment buffered after the order subscribed.
    now = engine.clock.now()
    database = create_engine(store_url)
    with database.begin() as conn:
        conn.execute(
            insert(buffered_messages),
            [
                message_values(
                    BufferedMessage(
                        "m1", "paid", "SO-1", {"amount": 5}, expires_at=now + TTL, created_at=now
                    )
                )
            ],
        )
    database.dispose()

    engine.run()

    assert paid(engine, order.id)
    assert engine.instance(order.id).variables["amount"] == 5
    assert [task.element_id for task in engine.tasks(instance=order.id)] == ["confirm_delivery"]
    assert engine.store.take_buffered_messages("paid", "SO-1", now) == []
