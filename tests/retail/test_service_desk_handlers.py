"""The service desk's handlers on a real seeded back office: what each writes, and that a
handler run twice for the same job changes the back office once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from retailflow import VirtualClock
from retailflow.handlers import HandlerContext, HandlerRegistry
from retailflow.retail import Backoffice, seed_backoffice
from retailflow.retail.records import Customer, Order, OrderLine, Stock, Ticket
from retailflow.retail.service_desk import FAQ_ANSWERS, Escalation, service_desk_handlers

TICKET = {
    "ticket_id": "T-1",
    "customer_id": "C-0001",
    "channel": "app",
    "subject": "Where is my order?",
    "order_id": "SO-1",
}


@pytest.fixture
def office() -> Backoffice:
    office = Backoffice(clock=VirtualClock())
    seed_backoffice(office, customers=5)
    with office.session() as session:
        session.add(
            Order(
                id="SO-1",
                customer_id="C-0001",
                channel="app",
                total=29.8,
                paid=29.8,
                refunded=8.9,
                status="shipped",
                fulfilled_from="ST-XUHUI",
                tracking_number="TRK-42",
                created_at=office.clock.now(),
            )
        )
        session.flush()
        session.add(OrderLine(order_id="SO-1", sku="MUG-005", quantity=2, price=8.9))
        session.add(OrderLine(order_id="SO-1", sku="BAG-006", quantity=1, price=6.5))
    return office


@pytest.fixture
def handlers(office: Backoffice) -> HandlerRegistry:
    return service_desk_handlers(office)


def run(
    handlers: HandlerRegistry,
    topic: str,
    variables: dict[str, Any],
    *,
    job: str = "job-1",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run one handler as the engine would, for job ``job`` of instance ``i-1``."""
    context = HandlerContext(
        instance_id="i-1",
        business_key="T-1",
        process_id="customer_service",
        definition_id="d-1",
        element_id=topic.split(".")[1],
        job_id=job,
        topic=topic,
        attempt=1,
        headers=headers or {},
    )
    registered = handlers.get(topic)
    assert registered is not None
    return registered.invoke(variables, context)


def ticket(office: Backoffice) -> Ticket:
    with office.session() as session:
        return session.get(Ticket, "T-1")


def segment(office: Backoffice, customer_id: str, value: str) -> None:
    with office.session() as session:
        session.get(Customer, customer_id).segment = value


def test_a_recorded_ticket_is_open_and_tells_the_customers_segment(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    segment(office, "C-0001", "loyal")
    assert run(handlers, "service.record_ticket", TICKET) == {"segment": "loyal"}
    recorded = ticket(office)
    assert (recorded.status, recorded.customer_id, recorded.order_id, recorded.channel) == (
        "open",
        "C-0001",
        "SO-1",
        "app",
    )


def test_a_ticket_recorded_twice_for_the_same_job_is_one_ticket(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    run(handlers, "service.record_ticket", TICKET)
    run(handlers, "service.record_ticket", TICKET)
    with office.session() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_a_ticket_for_an_unknown_customer_is_refused_with_what_to_do(
    handlers: HandlerRegistry,
) -> None:
    with pytest.raises(ValueError, match="no customer 'C-9999'"):
        run(handlers, "service.record_ticket", {**TICKET, "customer_id": "C-9999"})


def test_routing_writes_the_triage_on_the_ticket(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    run(handlers, "service.record_ticket", TICKET)
    run(
        handlers,
        "service.route_ticket",
        {"ticket_id": "T-1", "priority": "high", "team": "service_senior"},
        job="job-2",
    )
    assert (ticket(office).priority, ticket(office).team) == ("high", "service_senior")


def test_where_is_my_order_is_answered_with_the_tracking_number(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    run(handlers, "service.record_ticket", TICKET)
    result = run(
        handlers,
        "service.try_auto_answer",
        {"ticket_id": "T-1", "category": "order_status", "order_id": "SO-1"},
        job="job-2",
    )
    assert result["auto_answered"] is True
    assert "TRK-42" in result["answer"]
    assert (ticket(office).status, ticket(office).resolution) == ("answered", result["answer"])


def test_an_order_not_yet_shipped_is_answered_as_being_prepared(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    with office.session() as session:
        session.add(
            Order(id="SO-2", customer_id="C-0001", channel="web", created_at=office.clock.now())
        )
    run(handlers, "service.record_ticket", {**TICKET, "order_id": "SO-2"})
    result = run(
        handlers,
        "service.try_auto_answer",
        {"ticket_id": "T-1", "category": "order_status", "order_id": "SO-2"},
        job="job-2",
    )
    assert result == {
        "auto_answered": True,
        "answer": "Your order SO-2 is being prepared and ships within a day.",
    }


@pytest.mark.parametrize("status", ["delivered", "delivery_failed", "returned", "cancelled"])
def test_an_order_no_longer_on_its_way_goes_to_an_agent_not_a_canned_answer(
    office: Backoffice, handlers: HandlerRegistry, status: str
) -> None:
    with office.session() as session:
        session.get(Order, "SO-1").status = status  # it still has its tracking number
    run(handlers, "service.record_ticket", TICKET)
    assert run(
        handlers,
        "service.try_auto_answer",
        {"ticket_id": "T-1", "category": "order_status", "order_id": "SO-1"},
        job="job-2",
    ) == {"auto_answered": False, "answer": None}


def test_a_frequently_asked_question_is_answered_from_the_faq(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    run(handlers, "service.record_ticket", TICKET)
    result = run(
        handlers,
        "service.try_auto_answer",
        {"ticket_id": "T-1", "category": "payment_methods"},
        job="job-2",
    )
    assert result == {"auto_answered": True, "answer": FAQ_ANSWERS["payment_methods"]}


@pytest.mark.parametrize(
    "variables",
    [
        {"category": "complaint", "order_id": "SO-1"},
        {"category": "order_status", "order_id": "SO-404"},
        {"category": "order_status"},
    ],
)
def test_what_the_back_office_cannot_answer_goes_to_an_agent(
    office: Backoffice, handlers: HandlerRegistry, variables: dict[str, Any]
) -> None:
    run(handlers, "service.record_ticket", TICKET)
    result = run(
        handlers, "service.try_auto_answer", {"ticket_id": "T-1", **variables}, job="job-2"
    )
    assert result == {"auto_answered": False, "answer": None}
    assert ticket(office).status == "open"


def test_an_escalation_raises_the_priority_once_per_job_and_tells_the_supervisors(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    run(handlers, "service.record_ticket", TICKET)
    run(
        handlers,
        "service.route_ticket",
        {"ticket_id": "T-1", "priority": "normal", "team": "service_agents"},
        job="job-2",
    )
    headers = {"supervisor_group": "night_supervisors"}
    for _ in range(2):
        result = run(
            handlers, "service.escalate_ticket", {"ticket_id": "T-1"}, job="job-3", headers=headers
        )
    assert result == {"escalated_to": "high", "supervisors_notified": "night_supervisors"}
    assert ticket(office).priority == "high"
    with office.session() as session:
        [escalation] = session.scalars(select(Escalation)).all()
        assert (escalation.from_priority, escalation.to_priority, escalation.notified_group) == (
            "normal",
            "high",
            "night_supervisors",
        )


def test_an_urgent_ticket_stays_urgent_when_escalated_again(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    run(handlers, "service.record_ticket", TICKET)
    run(
        handlers,
        "service.route_ticket",
        {"ticket_id": "T-1", "priority": "urgent", "team": "service_senior"},
        job="job-2",
    )
    assert (
        run(handlers, "service.escalate_ticket", {"ticket_id": "T-1"}, job="job-3")["escalated_to"]
        == "urgent"
    )


def test_a_return_refunds_what_was_not_refunded_yet(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    run(handlers, "service.record_ticket", TICKET)
    result = run(
        handlers, "service.open_return", {"ticket_id": "T-1", "order_id": "SO-1"}, job="job-2"
    )
    assert result == {"refund_amount": 20.9, "customer_id": "C-0001"}
    assert ticket(office).status == "return_open"


def test_a_return_on_an_order_never_paid_refunds_nothing(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    with office.session() as session:
        order = session.get(Order, "SO-1")
        order.paid, order.refunded, order.status = 0.0, 0.0, "unpaid"
    run(handlers, "service.record_ticket", TICKET)
    assert (
        run(handlers, "service.open_return", {"ticket_id": "T-1", "order_id": "SO-1"}, job="job-2")[
            "refund_amount"
        ]
        == 0.0
    )


def test_a_return_for_an_unknown_order_is_refused_with_what_to_do(
    handlers: HandlerRegistry,
) -> None:
    with pytest.raises(ValueError, match="no order 'SO-404'"):
        run(handlers, "service.open_return", {"ticket_id": "T-1", "order_id": "SO-404"})


def test_returned_goods_go_back_on_hand_where_the_order_came_from_once(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    with office.session() as session:
        session.get(Order, "SO-1").status = "delivered"
        mugs = session.get(Stock, ("ST-XUHUI", "MUG-005")).on_hand
        bags = session.get(Stock, ("ST-XUHUI", "BAG-006")).on_hand
    for _ in range(2):
        result = run(handlers, "service.restock_return", {"order_id": "SO-1"})
    assert result == {"restocked_at": "ST-XUHUI", "restocked_units": 3}
    with office.session() as session:
        assert session.get(Stock, ("ST-XUHUI", "MUG-005")).on_hand == mugs + 2
        assert session.get(Stock, ("ST-XUHUI", "BAG-006")).on_hand == bags + 1


def test_goods_of_an_order_never_delivered_are_not_restocked_twice_over(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    with office.session() as session:
        mugs = session.get(Stock, ("ST-XUHUI", "MUG-005")).on_hand
    # SO-1 is still with the carrier: its goods are on no shelf to come back to
    assert run(handlers, "service.restock_return", {"order_id": "SO-1"}) == {
        "restocked_at": "ST-XUHUI",
        "restocked_units": 0,
    }
    with office.session() as session:
        assert session.get(Stock, ("ST-XUHUI", "MUG-005")).on_hand == mugs


@pytest.mark.parametrize(
    ("customer_segment", "satisfaction", "escalated", "points"),
    [
        ("new", 5, False, 50),
        ("new", None, False, 50),
        ("new", 2, False, 200),
        ("promising", 4, True, 200),
        ("loyal", 4, False, 75),
        ("champion", 1, False, 400),
    ],
)
def test_loyalty_points_thank_more_after_a_bad_experience_and_the_best_customers_most(
    office: Backoffice,
    handlers: HandlerRegistry,
    customer_segment: str,
    satisfaction: int | None,
    escalated: bool,
    points: int,
) -> None:
    segment(office, "C-0001", customer_segment)
    run(handlers, "service.record_ticket", TICKET)
    run(
        handlers,
        "service.route_ticket",
        {"ticket_id": "T-1", "priority": "normal", "team": "service_agents"},
        job="job-2",
    )
    if escalated:
        run(handlers, "service.escalate_ticket", {"ticket_id": "T-1"}, job="job-3")
    headers = {"base_points": "50", "apology_points": "200"}
    for _ in range(2):
        result = run(
            handlers,
            "loyalty.award_points",
            {"ticket_id": "T-1", "satisfaction": satisfaction},
            job="job-4",
            headers=headers,
        )
    assert result == {"points_awarded": points, "loyalty_points": points}
    with office.session() as session:
        assert session.get(Customer, "C-0001").loyalty_points == points


def test_a_closed_ticket_keeps_the_score_and_the_agents_resolution(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    run(handlers, "service.record_ticket", TICKET)
    run(
        handlers,
        "service.close_ticket",
        {"ticket_id": "T-1", "satisfaction": 3, "resolution": "refund"},
        job="job-2",
    )
    closed = ticket(office)
    assert (closed.status, closed.satisfaction, closed.resolution) == ("closed", 3, "refund")


def test_closing_an_automatically_answered_ticket_keeps_its_answer(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    run(handlers, "service.record_ticket", TICKET)
    answer = run(
        handlers,
        "service.try_auto_answer",
        {"ticket_id": "T-1", "category": "order_status", "order_id": "SO-1"},
        job="job-2",
    )["answer"]
    run(handlers, "service.close_ticket", {"ticket_id": "T-1"}, job="job-3")
    closed = ticket(office)
    assert (closed.status, closed.satisfaction, closed.resolution) == ("closed", None, answer)


def test_a_step_on_a_ticket_that_was_never_recorded_says_which_step_records_it(
    handlers: HandlerRegistry,
) -> None:
    with pytest.raises(LookupError, match=r"service\.record_ticket"):
        run(handlers, "service.close_ticket", {"ticket_id": "T-404"})
