"""processes/customer_service.bpmn (with returns_refunds.bpmn and the ticket_triage table) as
the service desk tells it: every path of both diagrams and every triage rule, so
`pytest --rf-cov` shows them fully covered; then the main paths on the real back office."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from retailflow import Engine, VirtualClock
from retailflow.retail import Backoffice, retail_handlers, seed_backoffice
from retailflow.retail.records import Customer, Order, OrderLine, Refund, Stock, Ticket
from retailflow.retail.service_desk import Escalation
from retailflow.testing import (
    HandlerMocks,
    TimeTravel,
    assert_that,
    complete,
    correlate,
    start,
)

PROCESS_FILES = (
    "processes/customer_service.bpmn",
    "processes/returns_refunds.bpmn",
    "processes/ticket_triage.dmn",
)
pytestmark = pytest.mark.rf_deploy(*PROCESS_FILES)
ROOT = Path(__file__).parents[2]

WHERE_IS_MY_ORDER = {
    "ticket_id": "T-1",
    "customer_id": "C-0001",
    "channel": "app",
    "subject": "Where is my order?",
    "category": "order_status",
    "order_id": "SO-1",
}
BROKEN_MUG = {**WHERE_IS_MY_ORDER, "subject": "My mug arrived broken", "category": "return"}


@pytest.fixture(autouse=True)
def service_desk(rf_handlers: HandlerMocks) -> HandlerMocks:
    """The back office on an ordinary day: a new customer, nothing answered automatically."""
    rf_handlers.mock("service.record_ticket", returns={"segment": "new"})
    rf_handlers.mock("service.route_ticket", returns={"ticket_status": "open"})
    rf_handlers.mock("service.try_auto_answer", returns={"auto_answered": False, "answer": None})
    rf_handlers.mock("service.escalate_ticket", returns={"escalated_to": "urgent"})
    rf_handlers.mock("crm.notify_customer")
    rf_handlers.mock("loyalty.award_points", returns={"points_awarded": 50})
    rf_handlers.mock("service.close_ticket", returns={"ticket_status": "closed"})
    rf_handlers.mock("service.open_return", returns={"refund_amount": 8.9, "customer_id": "C-0001"})
    rf_handlers.mock("service.restock_return", returns={"restocked_units": 1})
    rf_handlers.mock("payments.refund", returns={"refund_id": "RF-1"})
    return rf_handlers


def templates(rf_handlers: HandlerMocks) -> list[str]:
    return [call.context.headers["template"] for call in rf_handlers.calls("crm.notify_customer")]


def open_ticket(ticket: dict[str, Any]) -> Any:
    return correlate("ticket_opened", key=ticket["ticket_id"], variables=ticket)


def test_where_is_my_order_is_answered_automatically_then_surveyed_and_rewarded(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    rf_handlers.mock(
        "service.try_auto_answer",
        returns={"auto_answered": True, "answer": "Your order SO-1 is on its way: tracking TRK-1."},
    )
    ticket = open_ticket(WHERE_IS_MY_ORDER)
    assert_that(ticket).is_waiting_at("wait_for_survey").has_not_passed("handle_ticket")
    assert_that(ticket).has_variables(
        segment="new", triage={"priority": "low", "team": "service_agents", "sla": "PT24H"}
    )
    assert rf_handlers["service.route_ticket"].last_inputs["priority"] == "low"
    assert templates(rf_handlers) == ["satisfaction_survey"]

    correlate("survey_answered", key="T-1", variables={"satisfaction": 5})
    assert_that(ticket).is_ended_at("ticket_closed").has_passed_in_order(
        "try_auto_answer", "send_survey", "wait_for_survey", "award_loyalty_points", "close_ticket"
    )
    assert rf_handlers["loyalty.award_points"].last_inputs["satisfaction"] == 5
    assert rf_handlers["service.close_ticket"].last_inputs["satisfaction"] == 5


def test_a_complaint_escalates_when_its_sla_runs_out_while_the_senior_agent_keeps_working(
    rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel
) -> None:
    rf_handlers.mock("service.record_ticket", returns={"segment": "champion"})
    complaint = {**WHERE_IS_MY_ORDER, "subject": "Rude courier", "category": "complaint"}
    ticket = open_ticket(complaint)
    assert_that(ticket).has_open_user_task("handle_ticket", candidate_group="service_senior")
    assert_that(ticket).is_waiting_at("sla_breached").has_variables(
        triage={"priority": "urgent", "team": "service_senior", "sla": "PT1H"}
    )

    rf_clock.advance(minutes=59)
    assert rf_handlers["service.escalate_ticket"].call_count == 0
    rf_clock.advance(minutes=1)
    assert_that(ticket).has_passed("sla_breached", "escalate_ticket", "ticket_escalated")
    assert_that(ticket).has_open_user_task("handle_ticket", candidate_group="service_senior")
    [escalation] = rf_handlers.calls("service.escalate_ticket")
    assert escalation.context.headers["supervisor_group"] == "service_supervisors"

    complete(ticket, {"resolution": "answered", "resolution_note": "apologised, voucher sent"})
    assert_that(ticket).is_waiting_at("wait_for_survey").has_not_passed("handle_return")
    assert rf_handlers["service.escalate_ticket"].call_count == 1


def test_a_survey_nobody_answers_closes_the_ticket_without_a_score_after_three_days(
    rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel
) -> None:
    ticket = open_ticket(WHERE_IS_MY_ORDER)
    complete(ticket, {"resolution": "answered"})
    rf_clock.advance(days=2, hours=23)
    assert_that(ticket).is_waiting_at("wait_for_survey", "survey_timeout")

    rf_clock.advance(hours=1)
    assert_that(ticket).is_ended_at("ticket_closed").has_passed("survey_timeout")
    assert rf_handlers["service.close_ticket"].last_inputs.get("satisfaction") is None
    assert rf_handlers["service.close_ticket"].last_inputs["resolution"] == "answered"


def test_a_return_is_received_inspected_restocked_and_refunded(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    rf_handlers.mock("service.record_ticket", returns={"segment": "loyal"})
    ticket = open_ticket(BROKEN_MUG)
    assert_that(ticket).has_open_user_task("handle_ticket", candidate_group="service_agents")

    complete(ticket, {"resolution": "refund", "return_goods": True})
    assert_that(ticket).has_open_user_task("receive_returned_goods", candidate_group="warehouse")
    assert rf_handlers["service.open_return"].last_inputs["order_id"] == "SO-1"
    assert rf_handlers["service.open_return"].last_inputs["ticket_id"] == "T-1"

    complete(ticket, {"received_by": "wei"})
    assert_that(ticket).has_open_user_task("inspect_returned_goods", candidate_group="returns_desk")
    complete(ticket, {"goods_condition": "resellable"})
    assert_that(ticket).is_waiting_at("wait_for_survey").has_passed_in_order(
        "handle_ticket",
        "open_return",
        "receive_returned_goods",
        "inspect_returned_goods",
        "restock_returned_goods",
        "refund_order",
        "notify_refunded",
        "refunded",
        "send_survey",
    )
    assert rf_handlers["payments.refund"].last_inputs["amount"] == 8.9
    assert rf_handlers["payments.refund"].last_inputs["order_id"] == "SO-1"
    assert templates(rf_handlers) == ["refund_issued", "satisfaction_survey"]
    assert_that(ticket).has_variables(refund_id="RF-1")


def test_a_refund_without_a_return_is_paid_at_once(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    ticket = open_ticket({**BROKEN_MUG, "category": "refund"})
    assert_that(ticket).has_variables(
        triage={"priority": "normal", "team": "service_agents", "sla": "PT8H"}
    )
    complete(ticket, {"resolution": "refund", "return_goods": False})
    assert_that(ticket).is_waiting_at("wait_for_survey").has_passed("refund_order")
    assert_that(ticket).has_not_passed("receive_returned_goods", "inspect_returned_goods")


def test_damaged_returned_goods_are_refunded_but_not_restocked(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    ticket = open_ticket(BROKEN_MUG)
    complete(ticket, {"resolution": "refund", "return_goods": True})
    complete(ticket, {"received_by": "wei"})
    complete(ticket, {"goods_condition": "damaged"})
    assert_that(ticket).is_waiting_at("wait_for_survey").has_passed("refund_order")
    assert_that(ticket).has_not_passed("restock_returned_goods")


def test_a_rejected_return_is_not_refunded_and_the_customer_told(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    ticket = open_ticket(BROKEN_MUG)
    complete(ticket, {"resolution": "refund", "return_goods": True})
    complete(ticket, {"received_by": "wei"})
    complete(ticket, {"goods_condition": "rejected"})
    assert_that(ticket).is_waiting_at("wait_for_survey").has_passed("return_rejected")
    assert_that(ticket).has_not_passed("refund_order", "restock_returned_goods")
    assert templates(rf_handlers) == ["return_rejected", "satisfaction_survey"]


def test_goods_never_sent_back_expire_the_return_after_fourteen_days(
    rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel
) -> None:
    ticket = open_ticket(BROKEN_MUG)
    complete(ticket, {"resolution": "refund", "return_goods": True})
    rf_clock.advance(days=13)
    assert_that(ticket).is_waiting_at("receive_returned_goods", "goods_not_received")

    rf_clock.advance(days=1)
    assert_that(ticket).is_waiting_at("wait_for_survey").has_passed(
        "goods_not_received", "notify_return_expired", "return_expired"
    )
    assert_that(ticket).has_not_passed("receive_returned_goods", "refund_order")
    assert "return_expired" in templates(rf_handlers)


def test_a_return_can_be_started_on_its_own_with_order_ticket_and_return_goods(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    refund = start(
        "returns_refunds",
        business_key="T-1",
        variables={"order_id": "SO-1", "ticket_id": "T-1", "return_goods": False},
    )
    assert_that(refund).is_ended_at("refunded").has_variables(refund_id="RF-1", refund_amount=8.9)


@pytest.mark.parametrize(
    ("category", "segment", "channel", "priority", "team", "sla"),
    [
        ("complaint", "loyal", "store_pos", "urgent", "service_senior", "PT1H"),
        ("complaint", "new", "social", "urgent", "service_senior", "PT1H"),
        ("complaint", "promising", "web", "high", "service_senior", "PT4H"),
        ("damaged_goods", "champion", "app", "high", "service_agents", "PT4H"),
        ("damaged_goods", "promising", "app", "normal", "service_agents", "PT8H"),
        ("order_status", "at_risk", "mini_program", "high", "service_senior", "PT4H"),
        ("delivery_times", "champion", "web", "low", "service_agents", "PT24H"),
    ],
)
def test_triage_sets_priority_team_and_sla_by_category_segment_and_channel(
    rf_engine: Engine,
    rf_handlers: HandlerMocks,
    category: str,
    segment: str,
    channel: str,
    priority: str,
    team: str,
    sla: str,
) -> None:
    rf_handlers.mock("service.record_ticket", returns={"segment": segment})
    ticket = open_ticket({**WHERE_IS_MY_ORDER, "category": category, "channel": channel})
    assert_that(ticket).has_open_user_task("handle_ticket", candidate_group=team)
    assert_that(ticket).has_variables(triage={"priority": priority, "team": team, "sla": sla})


# The real back office: the diagrams' variable names and the handlers agree.


@pytest.fixture
def office() -> Backoffice:
    office = Backoffice(clock=VirtualClock())
    seed_backoffice(office, customers=10)
    return office


def real_engine(office: Backoffice) -> Engine:
    engine = Engine(handlers=retail_handlers(office), clock=office.clock)
    engine.deploy(*(ROOT / path for path in PROCESS_FILES))
    return engine


def place_order(office: Backoffice, order_id: str, *, tracking_number: str | None) -> None:
    with office.session() as session:
        session.add(
            Order(
                id=order_id,
                customer_id="C-0001",
                channel="app",
                total=8.9,
                status="shipped" if tracking_number else "placed",
                fulfilled_from="ST-PUDONG",
                tracking_number=tracking_number,
                created_at=office.clock.now(),
            )
        )
        session.flush()
        session.add(OrderLine(order_id=order_id, sku="MUG-005", quantity=1, price=8.9))


def test_where_is_my_order_on_the_real_back_office_is_answered_from_the_tracking_number(
    office: Backoffice,
) -> None:
    place_order(office, "SO-1", tracking_number="TRK-42")
    engine = real_engine(office)
    ticket = engine.correlate("ticket_opened", key="T-1", variables=WHERE_IS_MY_ORDER)
    engine.run()
    assert_that(ticket, engine=engine).is_waiting_at("wait_for_survey").has_variables(
        auto_answered=True
    )

    engine.correlate("survey_answered", key="T-1", variables={"satisfaction": 4})
    engine.run()
    assert_that(ticket, engine=engine).is_ended_at("ticket_closed")
    with office.session() as session:
        record = session.get(Ticket, "T-1")
        assert (record.status, record.satisfaction, record.priority, record.team) == (
            "closed",
            4,
            "low",
            "service_agents",
        )
        assert "TRK-42" in record.resolution
        assert session.get(Customer, "C-0001").loyalty_points == 50


def test_a_return_on_the_real_back_office_restocks_refunds_and_escalates_past_the_sla(
    office: Backoffice,
) -> None:
    place_order(office, "SO-1", tracking_number="TRK-42")
    with office.session() as session:
        delivered = session.get(Order, "SO-1")
        delivered.status, delivered.paid = "delivered", 8.9  # the mug arrived broken
        on_hand_before = session.get(Stock, ("ST-PUDONG", "MUG-005")).on_hand
    engine = real_engine(office)
    ticket = engine.correlate("ticket_opened", key="T-1", variables=BROKEN_MUG)
    engine.run()
    office.clock.advance(timedelta(hours=8))
    engine.run()
    [agent_task] = engine.tasks(instance=ticket.id)
    engine.complete_task(agent_task, {"resolution": "refund", "return_goods": True})
    engine.run()
    for work in ({"received_by": "wei"}, {"goods_condition": "resellable"}):
        [task] = engine.tasks(instance=ticket.id)
        engine.complete_task(task, work)
        engine.run()
    office.clock.advance(timedelta(days=3))
    engine.run()
    assert_that(ticket, engine=engine).is_ended_at("ticket_closed").has_passed(
        "escalate_ticket", "restock_returned_goods", "refund_order", "survey_timeout"
    )

    with office.session() as session:
        assert session.get(Stock, ("ST-PUDONG", "MUG-005")).on_hand == on_hand_before + 1
        [refund] = session.scalars(select(Refund)).all()
        assert (refund.order_id, refund.amount) == ("SO-1", 8.9)
        assert session.get(Order, "SO-1").refunded == 8.9
        [escalation] = session.scalars(select(Escalation)).all()
        assert (escalation.from_priority, escalation.to_priority) == ("normal", "high")
        record = session.get(Ticket, "T-1")
        assert (record.status, record.satisfaction, record.resolution) == ("closed", None, "refund")
        # An escalated ticket earns the apology points although nobody scored it.
        assert session.get(Customer, "C-0001").loyalty_points == 200
