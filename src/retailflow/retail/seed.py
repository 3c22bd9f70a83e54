"""A believable small business to run the processes against: the demo's and the tests' data."""

from __future__ import annotations

import random
from datetime import timedelta

from retailflow.retail.backoffice import Backoffice
from retailflow.retail.records import (
    Customer,
    CustomerIdentity,
    Location,
    Product,
    Stock,
    Supplier,
    Touchpoint,
)

#: sku -> (name, category, unit cost, price)
CATALOGUE: dict[str, tuple[str, str, float, float]] = {
    "TEA-001": ("Jasmine green tea 100 g", "grocery", 2.10, 4.90),
    "COF-002": ("Single-origin coffee beans 250 g", "grocery", 4.80, 11.50),
    "MLK-003": ("Fresh oat milk 1 l", "fresh", 0.90, 2.40),
    "FRU-004": ("Seasonal fruit box", "fresh", 6.00, 14.00),
    "MUG-005": ("Ceramic mug", "home", 2.50, 8.90),
    "BAG-006": ("Canvas tote bag", "apparel", 1.80, 6.50),
    "TSH-007": ("Organic cotton T-shirt", "apparel", 4.20, 19.00),
    "EAR-008": ("Wireless earbuds", "electronics", 18.00, 49.00),
    "LMP-009": ("Desk lamp", "home", 9.50, 29.00),
    "PWR-010": ("Power bank 10 000 mAh", "electronics", 7.40, 24.00),
}
#: location id -> (kind, city)
LOCATIONS: dict[str, tuple[str, str]] = {
    "WH-EAST": ("warehouse", "Shanghai"),
    "WH-SOUTH": ("warehouse", "Shenzhen"),
    "ST-PUDONG": ("store", "Shanghai"),
    "ST-XUHUI": ("store", "Shanghai"),
    "ST-FUTIAN": ("store", "Shenzhen"),
    "LK-JINGAN": ("locker", "Shanghai"),
}
#: supplier id -> (name, lead time in days, rating 0..5)
SUPPLIERS: dict[str, tuple[str, int, float]] = {
    "SUP-FAST": ("QuickSource Trading", 2, 3.6),
    "SUP-QUALITY": ("Evergreen Goods", 6, 4.8),
    "SUP-CHEAP": ("ValueLine Wholesale", 10, 3.1),
}
CHANNELS = ("app", "mini_program", "store_pos", "web", "social")


def seed_backoffice(office: Backoffice, *, customers: int = 120, seed: int = 7) -> None:
    """Fill an empty back office: catalogue, locations, stock, suppliers, and ``customers``
    customers with channel identities and a few weeks of touchpoints (so segmentation has
    something to read). The same ``seed`` gives the same business."""
    rng = random.Random(seed)
    now = office.clock.now()
    with office.session() as session:
        for sku, (name, category, cost, price) in CATALOGUE.items():
            session.add(Product(sku=sku, name=name, category=category, unit_cost=cost, price=price))
        for location_id, (kind, city) in LOCATIONS.items():
            session.add(Location(id=location_id, kind=kind, city=city))
        for supplier_id, (name, lead_time, rating) in SUPPLIERS.items():
            session.add(
                Supplier(id=supplier_id, name=name, lead_time_days=lead_time, rating=rating)
            )
        session.flush()
        for location_id, (kind, _city) in LOCATIONS.items():
            for sku in CATALOGUE:
                on_hand = {
                    "warehouse": rng.randint(150, 400),
                    "store": rng.randint(5, 40),
                    "locker": 0,
                }[kind]
                sold = rng.randint(0, on_hand // 3 + 1)
                if kind == "warehouse" and CATALOGUE[sku][1] == "fresh":
                    on_hand //= 4  # fresh goods are bought little and often
                session.add(
                    Stock(location_id=location_id, sku=sku, on_hand=on_hand, sold_last_7_days=sold)
                )
        for number in range(1, customers + 1):
            customer_id = f"C-{number:04d}"
            session.add(Customer(id=customer_id, name=f"Customer {number}"))
            session.flush()
            for channel in rng.sample(CHANNELS, rng.randint(1, 3)):
                session.add(
                    CustomerIdentity(
                        channel=channel,
                        customer_id=customer_id,
                        external_id=f"{channel}:{customer_id}",
                    )
                )
            for _ in range(rng.randint(0, 12)):
                sku = rng.choice(list(CATALOGUE))
                bought = rng.random() < 0.4
                session.add(
                    Touchpoint(
                        customer_id=customer_id,
                        channel=rng.choice(CHANNELS),
                        kind="purchase" if bought else rng.choice(("view", "search")),
                        sku=sku,
                        amount=CATALOGUE[sku][3] if bought else 0.0,
                        at=now - timedelta(days=rng.randint(0, 120), minutes=rng.randint(0, 1440)),
                    )
                )
