"""A simulated fortnight of business: the demo's world around the seven processes.

Customers order on every channel, pay (or not), change their minds, write to customer service
and answer surveys; carriers deliver (or fail to); suppliers confirm purchase orders (or stay
silent); staff work their task lists. Everything happens at simulated times on a
``TimeTravel`` clock, so timers fire where they fall and the history reads like a real
fortnight. The processes decide everything else: what is reserved where, what is reordered,
which campaign runs, what the KPI report says.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from retailflow.engine import Engine, TimeTravel
from retailflow.model import NotFoundError, UserTask
from retailflow.retail.backoffice import Backoffice
from retailflow.retail.records import Campaign, Customer, Order, Product, PurchaseOrder
from retailflow.retail.seed import CHANNELS, LOCATIONS

Action = Callable[[], None]
#: The random part of ids the engine and handlers generate (uuid hex), left out of what seeds
#: a task's answer so that the same seed gives the same run.
_GENERATED_ID = re.compile(r"[0-9a-fA-F]{8,}")
#: What a member of staff enters to complete a user task, by the task's element id.
StaffAnswer = Callable[[random.Random, UserTask], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SimulationSettings:
    """How big the simulated fortnight is; the same settings and seed give the same run."""

    days: int = 14
    orders_per_day: int = 30
    seed: int = 7
    tick: timedelta = timedelta(minutes=30)


@dataclass(slots=True)
class _Event:
    at: datetime
    order: int
    action: Action = field(compare=False)

    def __lt__(self, other: _Event) -> bool:
        return (self.at, self.order) < (other.at, other.order)


class BusinessSimulation:
    """Drives ``engine`` (with every process deployed) through ``settings.days`` of business.

    ``counts`` tells afterwards what the world did (orders placed, payments, failed
    deliveries, tickets, ...), for the demo's summary.
    """

    def __init__(
        self,
        engine: Engine,
        office: Backoffice,
        travel: TimeTravel,
        settings: SimulationSettings,
        answers: Mapping[str, StaffAnswer],
    ) -> None:
        self.engine, self.office, self.travel, self.settings = engine, office, travel, settings
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(settings.seed)
        self._answers = answers
        self._events: list[_Event] = []
        self._sequence = itertools.count()
        self._seen: set[tuple[str, ...]] = set()
        with office.session() as session:
            self._customers = list(session.scalars(select(Customer.id).order_by(Customer.id)))
            self._skus = list(session.scalars(select(Product.sku).order_by(Product.sku)))

    def run(self, progress: Callable[[float], None] | None = None) -> None:
        """Simulate the whole period; ``progress`` is told the simulated hours that passed."""
        start = self.travel.now
        end = start + timedelta(days=self.settings.days)
        self._plan_orders(start, end)
        for day in range(0, self.settings.days, 7):
            self._at(
                start + timedelta(days=day, hours=2),
                lambda day=day: self._request_campaign(day // 7 + 1),
            )
        while self.travel.now < end:
            step_end = min(self.travel.now + self.settings.tick, end)
            while self._events and self._events[0].at <= step_end:
                event = heapq.heappop(self._events)
                if event.at > self.travel.now:
                    self.travel.advance(event.at - self.travel.now)
                event.action()
            self.travel.advance(step_end - self.travel.now)
            self._look_around()
            if progress is not None:
                progress(self.settings.tick / timedelta(hours=1))

    # -- the customers ---------------------------------------------------------------------

    def _plan_orders(self, start: datetime, end: datetime) -> None:
        total = self.settings.orders_per_day * self.settings.days
        for number in range(1, total + 1):
            day = self._rng.randrange(self.settings.days)
            at = start + timedelta(days=day, minutes=self._rng.randint(0, 14 * 60))
            self._at(min(at, end), lambda number=number: self._place_order(f"SO-{number:05d}"))

    def _place_order(self, order_id: str) -> None:
        rng = self._random("order", order_id)
        customer = rng.choice(self._customers)
        items = [
            {"sku": sku, "quantity": rng.randint(1, 2)}
            for sku in rng.sample(self._skus, rng.randint(1, 3))
        ]
        city = rng.choice(sorted({city for _kind, city in LOCATIONS.values()}))
        self.engine.start(
            "order_fulfilment",
            business_key=order_id,
            variables={
                "order_id": order_id,
                "customer_id": customer,
                "channel": rng.choice(CHANNELS),
                "items": items,
                "delivery_address": {"city": city},
            },
        )
        self.counts["orders placed"] += 1
        self._maybe_convert(order_id, items)
        if rng.random() < 0.92:
            self._after(
                timedelta(minutes=rng.randint(1, 25)),
                lambda: self._send("payment_received", order_id, {"paid": True}, "payments"),
            )
        if rng.random() < 0.04:
            self._after(
                timedelta(minutes=rng.randint(2, 90)),
                lambda: self._send("order_cancel_requested", order_id, {}, "cancellations"),
            )
        if rng.random() < 0.08:
            self._after(
                timedelta(hours=rng.randint(2, 60)), lambda: self._open_ticket(order_id, customer)
            )

    def _request_campaign(self, week: int) -> None:
        """The marketing lead asks for the week's campaign; the process does the rest."""
        self.engine.correlate(
            "campaign_requested",
            variables={
                "campaign_id": f"CMP-WEEK-{week}",
                "goal": ("acquisition", "loyalty")[(week - 1) % 2],
                "budget": 3000,
                "channels": ["app", "mini_program", "store_pos", "social"],
                "campaign_duration": "P5D",
            },
        )
        self.counts["campaigns requested"] += 1

    def _maybe_convert(self, order_id: str, items: list[dict[str, Any]]) -> None:
        """An order placed while a campaign runs is, now and then, one it brought in."""
        with self.office.session() as session:
            running = list(
                session.execute(
                    select(Campaign.id, Campaign.name)
                    .where(Campaign.status == "running")
                    .order_by(Campaign.name, Campaign.id)
                )
            )
            revenue = sum(
                session.get(Product, item["sku"]).price * item["quantity"] for item in items
            )
        for campaign_id, name in running:
            if self._random("conversion", order_id, name).random() < 0.3:
                self._send(
                    "campaign_conversion",
                    campaign_id,
                    {"order_id": order_id, "revenue": round(revenue, 2)},
                    "campaign conversions",
                )

    def _open_ticket(self, order_id: str, customer_id: str) -> None:
        ticket_id = f"T-{order_id}"
        rng = self._random("ticket", ticket_id)
        category = rng.choice(
            (
                "order_status",
                "order_status",
                "delivery_times",
                "return",
                "refund",
                "damaged_goods",
                "complaint",
            )
        )
        self.engine.correlate(
            "ticket_opened",
            key=ticket_id,
            variables={
                "ticket_id": ticket_id,
                "customer_id": customer_id,
                "channel": rng.choice(CHANNELS),
                "subject": category.replace("_", " "),
                "category": category,
                "order_id": order_id,
            },
        )
        self.counts["tickets opened"] += 1
        if rng.random() < 0.7:
            satisfaction = rng.randint(1, 5)
            self._after(
                timedelta(hours=rng.randint(4, 48)),
                lambda: self._send(
                    "survey_answered", ticket_id, {"satisfaction": satisfaction}, "surveys answered"
                ),
            )

    def _send(self, message: str, key: str, variables: dict[str, Any], counter: str) -> None:
        """A message the world sends; one for an instance that no longer waits is dropped."""
        with suppress(NotFoundError):
            self.engine.correlate(message, key=key, variables=variables)
            self.counts[counter] += 1

    # -- what the world notices every tick --------------------------------------------------

    def _look_around(self) -> None:
        self._work_task_lists()
        with self.office.session() as session:
            shipped = [
                (o.id, o.tracking_number, o.delivery_attempts)
                for o in session.scalars(
                    select(Order).where(Order.status == "shipped").order_by(Order.id)
                )
            ]
            sent = [
                (po.number, sum(line["quantity"] for line in po.lines))
                for po in session.scalars(
                    select(PurchaseOrder)
                    .where(PurchaseOrder.status == "sent")
                    .order_by(PurchaseOrder.number)
                )
            ]
        for order_id, tracking, attempts in shipped:
            if self._first_time("carrier", order_id, str(tracking), str(attempts)):
                rng = self._random("carrier", order_id, str(attempts))
                delivered = rng.random() < 0.88
                self._after(
                    timedelta(hours=rng.randint(3, 20)),
                    lambda order_id=order_id, delivered=delivered: self._deliver(
                        order_id, delivered
                    ),
                )
        for number, quantity in sent:
            rng = self._random("supplier", number)
            if self._first_time("supplier", number) and rng.random() < 0.85:
                self._after(
                    timedelta(hours=rng.randint(12, 72)),
                    lambda number=number, quantity=quantity: self._send(
                        "supplier_confirmed",
                        number,
                        {
                            "confirmed_quantity": quantity,
                            "delivery_date": (self.travel.now + timedelta(days=2))
                            .date()
                            .isoformat(),
                        },
                        "purchase orders confirmed",
                    ),
                )

    def _deliver(self, order_id: str, delivered: bool) -> None:
        if delivered:
            self._send("delivery_confirmed", order_id, {}, "deliveries")
        else:
            self._send("delivery_failed", order_id, {"reason": "nobody home"}, "failed deliveries")

    def _work_task_lists(self) -> None:
        for task in self.engine.tasks():
            if not self._first_time("task", task.id):
                continue
            answer = self._answers.get(task.element_id)
            if answer is None:
                continue
            # what the task is about, not its random id, picks the person's answer
            about = json.dumps(task.variables, sort_keys=True, default=str)
            rng = self._random(
                "task", task.element_id, task.created_at.isoformat(), _GENERATED_ID.sub("#", about)
            )
            variables = answer(rng, task)
            delay = timedelta(minutes=rng.randint(10, 240))
            self._after(
                delay, lambda task=task, variables=variables: self._complete(task, variables)
            )

    def _complete(self, task: UserTask, variables: dict[str, Any]) -> None:
        with suppress(NotFoundError):  # the instance moved on without it (a timer, a cancel)
            self.engine.complete_task(task.id, variables)
            self.counts["user tasks completed"] += 1

    # -- the event queue -----------------------------------------------------------------

    def _random(self, *subject: str) -> random.Random:
        """The random stream of one thing in the world (an order, a ticket, a task): its own,
        so the run is the same for the same seed whatever order the store lists things in."""
        return random.Random("|".join((str(self.settings.seed), *subject)))

    def _first_time(self, *key: str) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def _after(self, delay: timedelta, action: Action) -> None:
        self._at(self.travel.now + delay, action)

    def _at(self, at: datetime, action: Action) -> None:
        heapq.heappush(self._events, _Event(at, next(self._sequence), action))


def _pick(choices: Mapping[str, float]) -> Callable[[random.Random], str]:
    """A choice with the given weights."""
    names, weights = list(choices), list(choices.values())
    return lambda rng: rng.choices(names, weights)[0]


_resolution = _pick({"answered": 0.6, "refund": 0.4})
_condition = _pick({"resellable": 0.7, "damaged": 0.2, "rejected": 0.1})


def _ordered(task: UserTask) -> int:
    """What the purchase order a buyer chases asked for."""
    return sum(line["quantity"] for line in task.variables.get("purchase_lines") or [])


def _handle_ticket(rng: random.Random, task: UserTask) -> dict[str, Any]:
    resolution = _resolution(rng)
    return {
        "resolution": resolution,
        "return_goods": resolution == "refund" and rng.random() < 0.7,
        "resolution_note": "handled by the simulated agent",
    }


#: How the simulated staff answer each user task of the shipped processes.
STAFF: dict[str, StaffAnswer] = {
    "pick_and_pack": lambda rng, task: {"packed_by": f"staff-{rng.randint(1, 8)}"},
    "handle_ticket": _handle_ticket,
    "receive_returned_goods": lambda rng, task: {"received_by": "returns clerk"},
    "inspect_returned_goods": lambda rng, task: {"goods_condition": _condition(rng)},
    "approve_budget": lambda rng, task: {"budget_approved": rng.random() < 0.85},
    "review_insight": lambda rng, task: {
        "approved": rng.random() < 0.8,
        "analyst_note": "checked against last season",
    },
    "plan_assortment": lambda rng, task: {},
    "chase_supplier": lambda rng, task: {
        "confirmed_quantity": _ordered(task),
        "delivery_date": task.created_at.date().isoformat(),
    },
    "inspect_goods": lambda rng, task: {
        "qc_passed": rng.random() < 0.9,
        "qc_notes": "sampled ten units",
    },
    "improve_process": lambda rng, task: {
        "improvement_plan": "rebalance staff to the slowest step and watch next week"
    },
}
