"""The small order flow (the Camunda 8 and Camunda 7 twins in tests/fixtures), driven through the
public API on every store: the engine's behaviour on a real-world shape, not the shipped catalogue
(tests/processes/test_order_fulfilment.py covers processes/order_fulfilment.bpmn)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from retailflow import (
    BpmnError,
    Engine,
    InstanceEndedError,
    InstanceStatus,
    NotFoundError,
    VirtualClock,
)
from scenario_kit import FIXTURES, EngineFactory, Recorder, passed

ORDER = {"order_id": "SO-1", "customer_id": "C-1", "items": [{"sku": "TEA", "quantity": 2}]}


def order_handlers(*, out_of_stock: bool = False) -> Recorder:
    recorder = Recorder()

    def reserve(variables: dict) -> dict:
        if out_of_stock:
            raise BpmnError("OUT_OF_STOCK", "no tea left", {"missing_sku": "TEA"})
        return {"stock_reserved": True}

    recorder.add("inventory.reserve", reserve)
    recorder.add("inventory.release", {"stock_reserved": False})
    recorder.add("orders.ship", {"tracking_number": "TRK-1", "carrier_internal": "x"})
    recorder.add("crm.notify_customer")
    return recorder


@pytest.fixture(params=["camunda8", "camunda7"])
def dialect(request: pytest.FixtureRequest) -> tuple[str, str]:
    """The same scenario on the Camunda 8 file and on its Camunda 7 twin."""
    if request.param == "camunda8":
        return str(FIXTURES / "order_fulfilment_c8.bpmn"), "order_fulfilment_c8"
    return str(FIXTURES / "order_fulfilment_c7.bpmn"), "order_fulfilment_c7"


def test_paid_order_is_packed_shipped_and_customer_notified(
    make_engine: EngineFactory, dialect: tuple[str, str]
) -> None:
    path, process_id = dialect
    handlers = order_handlers()
    engine = make_engine(handlers.registry)
    engine.deploy(path)

    order = engine.start(process_id, business_key="SO-1", variables=ORDER)
    engine.run()
    assert handlers.topics() == ["inventory.reserve"]
    _topic, inputs, context = handlers.calls[0]
    assert inputs["order_id"] == "SO-1" and inputs["items"] == ORDER["items"]
    assert context.element_id == "reserve_stock" and context.attempt == 1
    assert context.idempotency_key == f"{order.id}:reserve_stock:{context.job_id}"

    key = "SO-1"
    engine.correlate("payment_received", key=key, variables={"paid": True})
    [task] = engine.tasks(instance=order.id)
    assert task.element_id == "pick_and_pack"
    assert task.candidate_groups == ("warehouse",)
    assert task.form_key is not None and "pick" in task.form_key

    engine.complete_task(task.id, {"packed_by": "ana"})
    engine.run()

    finished = engine.instance(order.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert finished.variables["tracking_number"] == "TRK-1"
    assert finished.variables["packed_by"] == "ana"
    assert handlers.topics() == ["inventory.reserve", "orders.ship", "crm.notify_customer"]
    assert passed(engine, order.id)[-1] == "order_shipped"


def test_out_of_stock_order_is_rejected_and_customer_told(make_engine: EngineFactory) -> None:
    handlers = order_handlers(out_of_stock=True)
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "order_fulfilment_c8.bpmn")

    order = engine.start("order_fulfilment_c8", variables=ORDER)
    engine.run()

    assert engine.instance(order.id).status == InstanceStatus.COMPLETED
    route = passed(engine, order.id)
    assert "stock_unavailable" in route and route[-1] == "order_rejected"
    assert "wait_for_payment" not in route
    notify = [c for c in handlers.calls if c[0] == "crm.notify_customer"]
    assert notify[0][2].headers["template"] == "out_of_stock"
    assert engine.instance(order.id).variables["missing_sku"] == "TEA"
    assert engine.incidents() == []


def test_an_ended_order_keeps_variables_and_history_but_no_engine_state(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(order_handlers().registry)
    engine.deploy(FIXTURES / "order_fulfilment_c8.bpmn")
    shipped = engine.start("order_fulfilment_c8", business_key="SO-1", variables=ORDER)
    cancelled = engine.start(
        "order_fulfilment_c8", business_key="SO-2", variables={**ORDER, "order_id": "SO-2"}
    )
    engine.run()
    engine.correlate("payment_received", key="SO-1", variables={"paid": True})
    [task] = engine.tasks(instance=shipped.id)
    engine.complete_task(task.id, {"packed_by": "ana"})
    engine.run()
    engine.cancel(cancelled.id)

    for order, status in ((shipped, "completed"), (cancelled, "cancelled")):
        ended, state, _ = engine.store.load_state(order.id)
        assert (ended.status, state) == (status, b"")
        assert ended.variables["customer_id"] == "C-1"
        assert engine.history(order.id)[-1].kind == f"instance_{status}"
        with pytest.raises(InstanceEndedError):
            engine.cancel(order.id)
    assert engine.instance(shipped.id).variables["tracking_number"] == "TRK-1"


def test_unpaid_order_is_cancelled_after_thirty_minutes_and_stock_released(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    handlers = order_handlers()
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "order_fulfilment_c8.bpmn")
    order = engine.start("order_fulfilment_c8", business_key="SO-1", variables=ORDER)
    engine.run()

    clock.advance(minutes=29)
    engine.run()
    assert engine.instance(order.id).status == InstanceStatus.RUNNING
    assert "inventory.release" not in handlers.topics()

    clock.advance(minutes=2)
    engine.run()
    assert engine.instance(order.id).status == InstanceStatus.COMPLETED
    assert passed(engine, order.id)[-1] == "order_cancelled"
    assert handlers.topics()[-2:] == ["inventory.release", "crm.notify_customer"]
    assert engine.tasks(instance=order.id) == []


def test_failing_handler_is_retried_then_becomes_an_incident_that_retry_resumes(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    handlers = order_handlers()
    failures = {"left": 10}
    recorder = Recorder()

    def flaky(variables: dict) -> dict:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("warehouse system down")
        return {"stock_reserved": True}

    recorder.add("inventory.reserve", flaky)
    for topic in ("inventory.release", "orders.ship", "crm.notify_customer"):
        recorder.registry.register(topic, handlers.registry.get(topic).function)
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "order_fulfilment_c8.bpmn")
    order = engine.start("order_fulfilment_c8", business_key="SO-1", variables=ORDER)

    for _ in range(5):
        engine.run()
        clock.advance(minutes=10)
    attempts = [ctx.attempt for topic, _, ctx in recorder.calls]
    assert attempts == [1, 2, 3]
    [incident] = engine.incidents(instance=order.id)
    assert incident.element_id == "reserve_stock"
    assert "warehouse system down" in incident.message
    assert engine.instance(order.id).status == InstanceStatus.RUNNING

    failures["left"] = 0
    assert engine.retry(order.id) == 1
    engine.run()
    assert engine.incidents() == []
    assert "reserve_stock" in passed(engine, order.id)
    [timer] = engine.jobs(instance=order.id)
    assert timer.element_id == "payment_timeout"


def test_a_new_engine_on_the_same_sqlite_file_resumes_waiting_instances(
    tmp_path: Path, clock: VirtualClock
) -> None:
    handlers = order_handlers()
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    with Engine(url, handlers=handlers.registry, clock=clock) as first:
        first.deploy(FIXTURES / "order_fulfilment_c8.bpmn")
        order = first.start("order_fulfilment_c8", business_key="SO-1", variables=ORDER)
        first.run()

    with Engine(url, handlers=handlers.registry, clock=clock) as second:
        second.correlate("payment_received", key="SO-1")
        [task] = second.tasks(instance=order.id)
        second.complete_task(task.id)
        second.run()
        assert second.instance(order.id).status == InstanceStatus.COMPLETED
    assert handlers.topics().count("inventory.reserve") == 1


@pytest.mark.parametrize("handed_over_after", [1, 2])
def test_state_stored_after_several_steps_of_one_engine_runs_on_in_another(
    tmp_path: Path, clock: VirtualClock, handed_over_after: int
) -> None:
    """The first engine keeps the live run between its steps and re-encodes only what changed;
    the state it stores must still be the whole truth, for a fresh engine to finish from."""
    handlers = order_handlers()
    url = f"sqlite:///{tmp_path / 'shop.db'}"

    def pay(engine: Engine, order_id: str) -> None:
        engine.correlate("payment_received", key="SO-1", variables={"paid": True})

    def pack(engine: Engine, order_id: str) -> None:
        [task] = engine.tasks(instance=order_id)
        engine.complete_task(task.id, {"packed_by": "ana"})
        engine.run()

    steps = [pay, pack]
    with Engine(url, handlers=handlers.registry, clock=clock) as first:
        first.deploy(FIXTURES / "order_fulfilment_c8.bpmn")
        order = first.start("order_fulfilment_c8", business_key="SO-1", variables=ORDER)
        first.run()
        for step in steps[: handed_over_after - 1]:
            step(first, order.id)
    with Engine(url, handlers=handlers.registry, clock=clock) as second:
        for step in steps[handed_over_after - 1 :]:
            step(second, order.id)
        finished = second.instance(order.id)
        assert finished.status == InstanceStatus.COMPLETED
        assert (finished.variables["packed_by"], finished.variables["paid"]) == ("ana", True)
        assert passed(second, order.id)[-1] == "order_shipped"
    assert handlers.topics() == ["inventory.reserve", "orders.ship", "crm.notify_customer"]


def test_payment_before_the_order_waits_is_delivered_when_it_does(
    make_engine: EngineFactory,
) -> None:
    handlers = order_handlers()
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "order_fulfilment_c8.bpmn")
    assert (
        engine.correlate(
            "payment_received", key="SO-1", variables={"paid": True}, ttl=timedelta(minutes=10)
        )
        is None
    )
    order = engine.start("order_fulfilment_c8", business_key="SO-1", variables=ORDER)
    engine.run()
    [task] = engine.tasks(instance=order.id)
    assert task.element_id == "pick_and_pack"
    assert engine.instance(order.id).variables["paid"] is True


def test_camunda_7_extension_properties_reach_the_handler_as_headers(
    make_engine: EngineFactory,
) -> None:
    handlers = order_handlers(out_of_stock=True)
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "order_fulfilment_c7.bpmn")
    engine.start("order_fulfilment_c7", business_key="SO-1", variables=ORDER)
    engine.run()
    [notify] = [c for c in handlers.calls if c[0] == "crm.notify_customer"]
    assert notify[2].headers["template"] == "out_of_stock"


def test_history_records_each_wait_state_entered_and_what_each_step_wrote(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    handlers = order_handlers()
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "order_fulfilment_c8.bpmn")
    order = engine.start("order_fulfilment_c8", business_key="SO-1", variables=ORDER)
    engine.run()
    clock.advance(minutes=5)
    engine.correlate("payment_received", key="SO-1", variables={"paid": True})
    clock.advance(minutes=7)
    [task] = engine.tasks(instance=order.id)
    engine.complete_task(task.id, {"packed_by": "ana"})
    engine.run()

    history = engine.history(order.id)
    kinds = [(e.kind, e.element_id) for e in history]
    assert kinds[0] == ("instance_started", None)
    assert kinds[-1] == ("instance_completed", None)
    for element in ("reserve_stock", "wait_for_payment", "pick_and_pack", "ship_order"):
        entered = kinds.index(("element_entered", element))
        assert ("element_completed", element) in kinds[entered:]
    reserve = next(
        e for e in history if e.kind == "element_completed" and e.element_id == "reserve_stock"
    )
    assert reserve.variables == {"stock_reserved": True} and reserve.attempt == 1
    pack_entered, pack_done = (e for e in history if e.element_id == "pick_and_pack")
    assert (pack_done.at - pack_entered.at) == timedelta(minutes=7)
    assert pack_done.variables == {"packed_by": "ana"}
    assert [e.seq for e in history] == sorted(e.seq for e in history)


def test_a_misspelled_message_is_told_apart_from_one_nobody_waits_for_yet(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(order_handlers().registry)
    engine.deploy(FIXTURES / "order_fulfilment_c8.bpmn")
    with pytest.raises(
        NotFoundError,
        match=r"no deployed process catches .*payment_recieved"
        r".*payment_received",
    ):
        engine.correlate("payment_recieved", key="SO-1")
    with pytest.raises(NotFoundError, match=r"no instance waits .*pass ttl="):
        engine.correlate("payment_received", key="SO-1")


def test_public_calls_take_the_objects_they_returned_as_well_as_ids(
    make_engine: EngineFactory,
) -> None:
    handlers = order_handlers(out_of_stock=True)
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "order_fulfilment_c8.bpmn")
    order = engine.start("order_fulfilment_c8", variables=ORDER)
    engine.run()
    assert engine.instance(order).id == order.id
    thrown = [e for e in engine.history(order) if e.kind == "bpmn_error_thrown"]
    assert thrown[0].element_id == "reserve_stock"
    assert thrown[0].variables["code"] == "OUT_OF_STOCK"
