"""Two engines on one database, driven by hypothesis through any interleaving of start,
correlate (with and without time-to-live), complete_task, cancel, run and the passing of time,
including one engine's start or correlate run in the middle of the other's operation, right
after one of its store reads (the races of separate processes, made repeatable).

Orders of ``awaiting_payment.bpmn`` wait for a payment (message ``paid``, keyed by order id),
then a job ships them and a person confirms the delivery. Every payment carries its own id, so
the machine can follow each one. After every step:

- no message is consumed twice, and none is lost: each payment sent woke exactly one order, or
  waits in the buffer, or was buffered and has expired;
- no lost wake-up: no buffered payment is left beside an order that waits for it;
- history is consistent: every order's history starts with its start, no element completes
  twice (the process has no loop), a completed order ends at its end event with nothing left
  waiting, a cancelled one ends cancelled, and a running one waits in exactly one place.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from retailflow import (
    Engine,
    HandlerRegistry,
    HistoryKind,
    InstanceStatus,
    NotFoundError,
    RetailflowError,
    VirtualClock,
)
from retailflow.model import SubscriptionKind
from retailflow.stores import Store, open_store
from scenario_kit import FIXTURES

EXAMPLES = 40
STEPS = 20
ENGINES = st.sampled_from([0, 1])
KEYS = st.sampled_from([0, 1])
TTLS = st.sampled_from([None, 5, 60])  # minutes; time passes 10 minutes at a time
PICKS = st.integers(min_value=0, max_value=1_000)
OPERATIONS = st.sampled_from(["start", "correlate", "complete_task", "run"])
INTERRUPTIONS = st.sampled_from(["start", "correlate"])
# The reads after which another engine's operation may cut in.
READS = st.sampled_from(["take_buffered_messages", "find_subscriptions", "load_state"])


class Interruptible:
    """A store through which another operation can be made to run right after a read."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._armed: tuple[str, Callable[[], None]] | None = None

    def arm(self, read: str, meanwhile: Callable[[], None]) -> None:
        """Run ``meanwhile`` once, after the next call of ``read`` returns."""
        self._armed = (read, meanwhile)

    def disarm(self) -> None:
        self._armed = None

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if self._armed is None or self._armed[0] != name:
            return found

        def then_meanwhile(*args: Any, **kwargs: Any) -> Any:
            result = found(*args, **kwargs)
            if self._armed is not None and self._armed[0] == name:
                meanwhile, self._armed = self._armed[1], None
                meanwhile()
            return result

        return then_meanwhile


class PaymentMachine(RuleBasedStateMachine):
    """One example: its own order ids, on the engines and database the whole test shares."""

    engines: tuple[Engine, Engine]
    stores: tuple[Interruptible, Interruptible]
    clock: VirtualClock

    def __init__(self) -> None:
        super().__init__()
        self.prefix = uuid.uuid4().hex[:8]
        self.orders: list[str] = []
        self.sent = 0
        self.delivered: dict[str, str] = {}  # payment id -> the order correlate woke
        self.expires: dict[str, object] = {}  # payment id -> when the buffered payment expires

    def key(self, number: int) -> str:
        return f"{self.prefix}-SO-{number}"

    @rule(engine=ENGINES, key=KEYS)
    def start(self, engine: int, key: int) -> None:
        order = self.engines[engine].start(
            "awaiting_payment", variables={"order_id": self.key(key)}
        )
        self.orders.append(order.id)

    @rule(engine=ENGINES, key=KEYS, ttl=TTLS)
    def correlate(self, engine: int, key: int, ttl: int | None) -> None:
        self.sent += 1
        payment = f"{self.prefix}-P{self.sent}"
        keep = None if ttl is None else timedelta(minutes=ttl)
        try:
            woken = self.engines[engine].correlate(
                "paid", key=self.key(key), ttl=keep, variables={"payment_id": payment}
            )
        except NotFoundError:
            assert keep is None  # nobody waited, and it was not to be kept
            return
        if woken is not None:
            self.delivered[payment] = woken.id
        else:
            assert keep is not None
            self.expires[payment] = self.clock.now() + keep

    @rule(engine=ENGINES, pick=PICKS)
    def complete_task(self, engine: int, pick: int) -> None:
        mine = set(self.orders)
        tasks = [task for task in self.engines[engine].tasks() if task.instance_id in mine]
        if tasks:
            self.engines[engine].complete_task(tasks[pick % len(tasks)], {"confirmed": True})

    @rule(engine=ENGINES, pick=PICKS)
    def cancel(self, engine: int, pick: int) -> None:
        if not self.orders:
            return
        order = self.orders[pick % len(self.orders)]
        if self.engines[engine].instance(order).status == InstanceStatus.RUNNING:
            self.engines[engine].cancel(order)
        else:
            with pytest.raises(RetailflowError, match="only a running instance"):
                self.engines[engine].cancel(order)

    @rule(engine=ENGINES)
    def run(self, engine: int) -> None:
        self.engines[engine].run()

    @rule()
    def pass_time(self) -> None:
        self.clock.advance(minutes=10)

    @rule(
        operation=OPERATIONS,
        engine=ENGINES,
        read=READS,
        interruption=INTERRUPTIONS,
        key=KEYS,
        other_key=KEYS,
        ttl=TTLS,
        pick=PICKS,
    )
    def interleave(
        self,
        operation: str,
        engine: int,
        read: str,
        interruption: str,
        key: int,
        other_key: int,
        ttl: int | None,
        pick: int,
    ) -> None:
        """``operation`` on one engine, with ``interruption`` on the other cutting in after
        the first ``read`` of the first engine's store (if it makes that read)."""
        other = 1 - engine
        self.stores[engine].arm(read, lambda: self.act(interruption, other, other_key, ttl, pick))
        try:
            self.act(operation, engine, key, ttl, pick)
        finally:
            self.stores[engine].disarm()

    def act(self, operation: str, engine: int, key: int, ttl: int | None, pick: int) -> None:
        if operation == "start":
            self.start(engine, key)
        elif operation == "correlate":
            self.correlate(engine, key, ttl)
        elif operation == "complete_task":
            self.complete_task(engine, pick)
        else:
            self.run(engine)

    # -- invariants --------------------------------------------------------------------------
    def buffered(self) -> dict[str, str]:
        """Payment id -> key of every unexpired buffered payment of this example."""
        store, now = self.engines[0].store, self.clock.now()
        return {
            message.variables["payment_id"]: message.correlation_key or ""
            for key in (self.key(0), self.key(1))
            for message in store.take_buffered_messages("paid", key, now)
        }

    @invariant()
    def each_payment_woke_one_order_or_waits_or_expired(self) -> None:
        consumed: dict[str, list[str]] = {}
        for order in self.orders:
            payment = self.engines[0].instance(order).variables.get("payment_id")
            if payment is not None:
                consumed.setdefault(payment, []).append(order)
        assert {p: o for p, o in consumed.items() if len(o) > 1} == {}, "consumed twice"
        buffered = self.buffered()
        assert buffered.keys() & consumed.keys() == set()
        for payment, order in self.delivered.items():
            assert consumed[payment] == [order]
        for payment, expires in self.expires.items():
            if payment not in consumed and payment not in buffered:
                assert expires <= self.clock.now(), f"{payment} was lost"  # type: ignore[operator]

    @invariant()
    def no_buffered_payment_is_left_beside_an_order_waiting_for_it(self) -> None:
        for key in set(self.buffered().values()):
            assert (
                self.engines[0].store.find_subscriptions(SubscriptionKind.MESSAGE, "paid", key)
                == []
            ), f"lost wake-up for {key}"

    @invariant()
    def every_history_tells_where_its_order_stands(self) -> None:
        engine = self.engines[0]
        for order in self.orders:
            status = engine.instance(order).status
            history = engine.history(order)
            completed = [e.element_id for e in history if e.kind == HistoryKind.ELEMENT_COMPLETED]
            assert history[0].kind == HistoryKind.INSTANCE_STARTED
            assert completed[0] == "order_placed"
            assert len(completed) == len(set(completed)), f"{order} completed a step twice"
            waits = (
                len(engine.subscriptions(instance=order))
                + len(engine.jobs(instance=order))
                + len(engine.tasks(instance=order))
            )
            if status == InstanceStatus.COMPLETED:
                assert history[-1].kind == HistoryKind.INSTANCE_COMPLETED
                assert completed[-1] == "order_delivered" and waits == 0
            elif status == InstanceStatus.CANCELLED:
                assert history[-1].kind == HistoryKind.INSTANCE_CANCELLED and waits == 0
            else:
                assert waits == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'shared.db'}"


def test_two_engines_never_double_or_lose_a_payment_in_any_interleaving(shared_url: str) -> None:
    clock = VirtualClock()
    handlers = HandlerRegistry()
    handlers.register("test.ship", lambda: {"shipped": True})
    # Each engine with a store (and connection pool) of its own, as separate processes have.
    stores = (Interruptible(open_store(shared_url)), Interruptible(open_store(shared_url)))
    engines = (
        Engine(store=stores[0], handlers=handlers, clock=clock),  # type: ignore[arg-type]
        Engine(store=stores[1], handlers=handlers, clock=clock),
    )  # type: ignore[arg-type]
    engines[0].deploy(FIXTURES / "awaiting_payment.bpmn")

    class OnTheseEngines(PaymentMachine):
        pass

    OnTheseEngines.engines, OnTheseEngines.stores, OnTheseEngines.clock = engines, stores, clock
    try:
        run_state_machine_as_test(
            OnTheseEngines,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        for engine in engines:
            engine.close()
