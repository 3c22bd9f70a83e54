"""The demo: simulated orders through ``processes/order_fulfilment.bpmn``.

Orders arrive from several channels and cities; the fulfilment route decides whether a store or
a warehouse serves each. Most customers pay, some never do (the 30-minute payment timer cancels
the order and releases stock), a few cancel, some orders ask for more than a store holds (the
``OUT_OF_STOCK`` path), warehouse and store staff pick and pack what was paid, and the carrier
reports deliveries, a few failed ones among them. Everything runs on a fresh SQLite file with a
virtual clock, so weeks take seconds.
"""

from __future__ import annotations

import random
from collections import Counter
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from statistics import quantiles

from rich.console import Console
from rich.progress import track
from rich.table import Table

from retailflow.engine import Engine, VirtualClock
from retailflow.model import HistoryKind, InstanceStatus, NotFoundError
from retailflow.retail import Backoffice, retail_handlers, seed_backoffice
from retailflow.retail.records import Notification, Stock

PROCESSES = Path(__file__).resolve().parents[3] / "processes"
CHANNELS = ("app", "mini_program", "store_pos", "web", "social")
CITIES = ("Shanghai", "Shanghai", "Shenzhen", "Beijing", "Guangzhou")
SKUS = ("TEA-001", "MUG-005", "BAG-006")
STAFF = ("warehouse", "store_staff")


def run_demo(*, orders: int, db: Path, seed: int, console: Console) -> None:
    """Simulate ``orders`` orders and print a table of outcomes and cycle times."""
    rng = random.Random(seed)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    clock = VirtualClock()
    shop = Backoffice(clock=clock)
    seed_backoffice(shop)
    with Engine(f"sqlite:///{db}", handlers=retail_handlers(shop), clock=clock) as engine:
        engine.deploy(_process_dir())
        for number in track(range(1, orders + 1), description="Simulating orders",
                            console=console):
            order_id = f"SO-{number:05d}"
            items = [{"sku": sku, "quantity": rng.randint(1, 3)}
                     for sku in rng.sample(SKUS, rng.randint(1, 2))]
            engine.start("order_fulfilment", business_key=order_id, variables={
                "order_id": order_id, "customer_id": f"C-{rng.randint(1, 80):04d}",
                "channel": rng.choice(CHANNELS), "items": items,
                "delivery_address": {"city": rng.choice(CITIES)}})
            engine.run()
            clock.advance(minutes=rng.randint(1, 4))
            _customer_acts(engine, order_id, rng)
            engine.run()
            for group in STAFF:
                for task in engine.tasks(candidate_group=group):
                    clock.advance(minutes=rng.randint(2, 10))
                    engine.complete_task(task.id, {"packed_by": f"{group}-{rng.randint(1, 5)}"})
            engine.run()
            _carrier_reports(engine, order_id, rng)
            engine.run()
        clock.advance(days=11)  # past every payment timeout and the wait for delivery news
        engine.run()
        _report(engine, shop, console)


def _customer_acts(engine: Engine, order_id: str, rng: random.Random) -> None:
    """Most customers pay; a few cancel, some never pay (the timeout cancels those)."""
    chance = rng.random()
    with suppress(NotFoundError):  # rejected for stock: nobody waits any more
        if chance < 0.85:
            engine.correlate("payment_received", key=order_id, variables={"paid": True})
            if chance < 0.03:
                engine.run()
                engine.correlate("order_cancel_requested", key=order_id)
        elif chance < 0.9:
            engine.correlate("order_cancel_requested", key=order_id)


def _carrier_reports(engine: Engine, order_id: str, rng: random.Random) -> None:
    """Most parcels arrive; some fail once or three times; some are never reported (the
    10-day timer counts them delivered)."""
    chance = rng.random()
    failures = 3 if chance < 0.03 else 1 if chance < 0.12 else 0
    with suppress(NotFoundError):  # not shipped: cancelled, rejected or unpaid
        for _ in range(failures):
            engine.correlate("delivery_failed", key=order_id)
            engine.run()
        if failures < 3 and chance < 0.95:
            engine.correlate("delivery_confirmed", key=order_id)


def _process_dir() -> str:
    local = Path("processes")
    return str(local if (local / "order_fulfilment.bpmn").exists() else PROCESSES)


def _report(engine: Engine, shop: Backoffice, console: Console) -> None:
    outcomes: Counter[str] = Counter()
    cycle_minutes: list[float] = []
    for instance in engine.instances(process_id="order_fulfilment"):
        ends = [e.element_id for e in engine.history(instance.id)
                if e.kind == HistoryKind.ELEMENT_COMPLETED and e.element_type == "endEvent"]
        outcomes[ends[-1] if ends else str(instance.status)] += 1
        if instance.status == InstanceStatus.COMPLETED and instance.ended_at:
            cycle_minutes.append((instance.ended_at - instance.started_at) / timedelta(minutes=1))
    table = Table(title="order_fulfilment: how the orders ended")
    table.add_column("outcome")
    table.add_column("orders", justify="right")
    for outcome, count in outcomes.most_common():
        table.add_row(outcome, str(count))
    console.print(table)
    if len(cycle_minutes) >= 2:
        p50, p90 = (quantiles(cycle_minutes, n=10)[i] for i in (4, 8))
        console.print(f"cycle time: p50 {p50:.1f} min, p90 {p90:.1f} min; "
                      f"incidents open: {len(engine.incidents())}; "
                      f"notifications sent: {_count(shop, Notification)}")


def _count(shop: Backoffice, record: type[Notification] | type[Stock]) -> int:
    with shop.session() as session:
        return len(session.query(record).all())
