"""The demo: a simulated day of orders through ``processes/order_fulfilment.bpmn``.

Orders arrive from several channels; most customers pay, some never do (the 30-minute payment
timer cancels the order and releases stock), some orders ask for more than is in stock (the
``OUT_OF_STOCK`` BPMN error path), and warehouse staff pick and pack what was paid. Everything
runs on a fresh SQLite file with a virtual clock, so a day takes seconds.
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
CHANNELS = ("app", "mini_program", "store_pos", "web")
SKUS = ("TEA-001", "MUG-005", "BAG-006")


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
                "location_id": "WH-EAST",
                "channel": rng.choice(CHANNELS), "items": items})
            engine.run()
            clock.advance(minutes=rng.randint(1, 4))
            if rng.random() < 0.9:
                with suppress(NotFoundError):  # rejected for stock: nobody waits to be paid
                    engine.correlate("payment_received", key=order_id,
                                     variables={"paid": True})
            engine.run()
            for task in engine.tasks(candidate_group="warehouse"):
                clock.advance(minutes=rng.randint(2, 10))
                engine.complete_task(task.id, {"packed_by": f"staff-{rng.randint(1, 5)}"})
            engine.run()
        clock.advance(hours=1)
        engine.run()
        _report(engine, shop, console)


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
