"""Inventory handlers: stock reserved for orders and given back, per location; and the supply
chain's view of it: snapshots, replenishment plans, transfers between locations, goods put away
and slow movers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from retailflow.handlers import BpmnError, HandlerContext, HandlerRegistry
from retailflow.retail.backoffice import Backoffice
from retailflow.retail.records import (
    Location,
    OrderLine,
    Product,
    PurchaseOrder,
    Record,
    Stock,
    existing,
    stock_to_fill,
)

#: Purchase orders whose goods are on their way: they count as stock when replenishing.
OPEN_PURCHASE_ORDER = ("sent", "confirmed")
#: A SKU is a slow mover when the network's stock lasts longer than this many weeks of sales.
SLOW_MOVER_WEEKS = 8
#: Marketing hears of a slow mover once in this period, not at every replenishment cycle.
SLOW_MOVER_QUIET = timedelta(days=14)
#: A line reordered from suppliers is not reordered again within this period: its purchase is
#: still being planned and approved (after that, an open purchase order counts as stock).
REORDER_REVIEW_PERIOD = timedelta(days=7)


class ReorderRequest(Record):
    """When a stock line was last reordered from suppliers."""

    __tablename__ = "reorder_requests"
    location_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), primary_key=True)
    requested_at: Mapped[datetime]


class SlowMoverFlag(Record):
    """When marketing was last told that a SKU moves slowly."""

    __tablename__ = "slow_mover_flags"
    sku: Mapped[str] = mapped_column(String(40), primary_key=True)
    flagged_at: Mapped[datetime]


class ItemLine(BaseModel):
    """One SKU and a quantity, as processes carry them."""

    sku: str
    quantity: int = Field(gt=0)


class ReserveRequest(BaseModel):
    """What ``inventory.reserve`` reads: the order's lines and where to take them from."""

    order_id: str
    location_id: str
    items: list[ItemLine]


class StockLine(BaseModel):
    """One SKU at one store or warehouse, as the replenishment snapshot sees it."""

    location_id: str
    sku: str
    category: str
    on_hand: int
    available: int  # on hand, less what orders hold, plus what open purchase orders bring
    weekly_sales: int


class StockSnapshot(BaseModel):
    """Stock across the stores and warehouses at one moment."""

    stock_lines: list[StockLine]
    snapshot_at: str


class ReplenishmentRule(BaseModel):
    """What the replenishment table decided for one stock line."""

    reorder_point: int
    reorder_quantity: int


class ReplenishmentRequest(BaseModel):
    """What ``inventory.plan_replenishment`` reads: the snapshot and the rule decided for each
    line, in the same order (a multi-instance output collection keeps its input's order)."""

    stock_lines: list[StockLine]
    replenishment_rules: list[ReplenishmentRule]


class Transfer(BaseModel):
    """Stock to move from a location with surplus to one below its reorder point."""

    sku: str
    from_location: str
    to_location: str
    quantity: int = Field(gt=0)


class SupplierReorder(BaseModel):
    """Stock to buy, for procurement's ``reorder`` (the called process's input)."""

    sku: str
    category: str
    location_id: str
    quantity: int = Field(gt=0)
    urgency: str  # high: nothing left to sell; normal otherwise


class ReplenishmentPlan(BaseModel):
    """Transfers where another location can spare the stock, reorders where none can."""

    transfers: list[Transfer]
    reorders: list[SupplierReorder]


class TransferRequest(BaseModel):
    """What ``inventory.transfer`` reads: one transfer (the multi-instance element)."""

    transfer: Transfer


class SlowMoverRequest(BaseModel):
    """What ``inventory.find_slow_movers`` reads."""

    stock_lines: list[StockLine]


def plan_replenishment(
    stock_lines: list[StockLine], rules: list[ReplenishmentRule]
) -> ReplenishmentPlan:
    """Every line below its reorder point gets its reorder quantity: moved from the location
    that can best spare it (keeping that location above its own reorder point plus one reorder
    quantity), else bought. The emptiest lines are served first."""
    if len(rules) != len(stock_lines):
        raise ValueError(
            f"{len(stock_lines)} stock lines but {len(rules)} replenishment rules: "
            "decide the rules over the same snapshot"
        )
    short, spare = [], {}
    for line, rule in zip(stock_lines, rules, strict=True):
        if line.available < rule.reorder_point:
            short.append((line, rule))
        else:
            spare[(line.location_id, line.sku)] = (
                line.available - rule.reorder_point - rule.reorder_quantity
            )
    transfers, reorders = [], []
    for line, rule in sorted(
        short, key=lambda pair: (pair[0].available, pair[0].location_id, pair[0].sku)
    ):
        donors = [
            (left, location)
            for (location, sku), left in spare.items()
            if sku == line.sku and left >= rule.reorder_quantity
        ]
        if donors:
            _left, donor = max(donors)
            spare[(donor, line.sku)] -= rule.reorder_quantity
            transfers.append(
                Transfer(
                    sku=line.sku,
                    from_location=donor,
                    to_location=line.location_id,
                    quantity=rule.reorder_quantity,
                )
            )
        else:
            reorders.append(
                SupplierReorder(
                    sku=line.sku,
                    category=line.category,
                    location_id=line.location_id,
                    quantity=rule.reorder_quantity,
                    urgency="high" if line.available <= 0 else "normal",
                )
            )
    return ReplenishmentPlan(transfers=transfers, reorders=reorders)


def slow_movers(stock_lines: list[StockLine]) -> list[str]:
    """SKUs whose stock across the network lasts more than ``SLOW_MOVER_WEEKS`` weeks."""
    on_hand: dict[str, int] = defaultdict(int)
    sold: dict[str, int] = defaultdict(int)
    for line in stock_lines:
        on_hand[line.sku] += line.on_hand
        sold[line.sku] += line.weekly_sales
    return sorted(sku for sku in on_hand if on_hand[sku] > sold[sku] * SLOW_MOVER_WEEKS)


@dataclass(frozen=True, slots=True)
class NetworkStock:
    """One SKU across every location: last week's sales and what is available to sell."""

    sold_last_7_days: int
    available: int  # on hand, less what orders hold


def network_stock(session: Session) -> dict[str, NetworkStock]:
    """Per SKU, summed over every location (one grouped query): what planning, demand
    signals and recommendations read."""
    rows = session.execute(
        select(
            Stock.sku, func.sum(Stock.sold_last_7_days), func.sum(Stock.on_hand - Stock.reserved)
        ).group_by(Stock.sku)
    )
    return {sku: NetworkStock(int(sold or 0), int(available or 0)) for sku, sold, available in rows}


def inventory_handlers(office: Backoffice) -> HandlerRegistry:
    """The ``inventory.*`` handlers, working on ``office``."""
    handlers = HandlerRegistry()

    @handlers.handler("inventory.reserve")
    def reserve(request: ReserveRequest, context: HandlerContext) -> dict[str, object]:
        """Promise every line of the order at ``location_id``, or none (BPMN error
        ``OUT_OF_STOCK`` with ``missing_sku``)."""

        def effect(session: Session) -> dict[str, object]:
            for line in request.items:
                stock = session.get(Stock, (request.location_id, line.sku), with_for_update=True)
                available = stock.on_hand - stock.reserved if stock else 0
                if stock is None or available < line.quantity:
                    raise BpmnError(
                        "OUT_OF_STOCK",
                        f"{line.sku} at {request.location_id}: wanted "
                        f"{line.quantity}, {available} available",
                        {"missing_sku": line.sku},
                    )
                stock.reserved += line.quantity
                order_line = session.get(OrderLine, (request.order_id, line.sku))
                if order_line is not None:
                    order_line.reserved_at = request.location_id
            return {"stock_reserved": True, "reserved_at": request.location_id}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("inventory.release")
    def release(order_id: str, context: HandlerContext) -> dict[str, object]:
        """Give back what an order holds (nothing, if it holds nothing)."""

        def effect(session: Session) -> dict[str, object]:
            for line in session.scalars(
                select(OrderLine).where(
                    OrderLine.order_id == order_id, OrderLine.reserved_at.is_not(None)
                )
            ):
                stock = session.get(Stock, (line.reserved_at, line.sku), with_for_update=True)
                if stock is not None:
                    stock.reserved -= line.quantity
                line.reserved_at = None
            return {"stock_reserved": False}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("inventory.put_away")
    def put_away(po_number: str, context: HandlerContext) -> dict[str, object]:
        """Shelve the goods of a received purchase order at its location: ``on_hand`` grows by
        each line, and the order is ``received``."""

        def effect(session: Session) -> dict[str, object]:
            order = existing(session, PurchaseOrder, po_number, "'procurement.send_purchase_order'")
            shelved = []
            for line in order.lines:
                stock = stock_to_fill(session, order.location_id, line["sku"])
                stock.on_hand += line["quantity"]
                shelved.append(
                    {"sku": line["sku"], "quantity": line["quantity"], "on_hand": stock.on_hand}
                )
            order.status = "received"
            return {"po_status": order.status, "put_away": shelved}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("inventory.snapshot_stock")
    def snapshot_stock() -> StockSnapshot:
        """Read the stock of every SKU at every store and warehouse (lockers only hand out
        orders, they are not replenished)."""
        with office.session() as session:
            rows = session.execute(
                select(Stock, Product.category)
                .join(Product, Product.sku == Stock.sku)
                .join(Location, Location.id == Stock.location_id)
                .where(Location.kind.in_(("store", "warehouse")))
                .order_by(Stock.location_id, Stock.sku)
            )
            on_order: dict[tuple[str, str], int] = defaultdict(int)
            for order in session.scalars(
                select(PurchaseOrder).where(PurchaseOrder.status.in_(OPEN_PURCHASE_ORDER))
            ):
                for line in order.lines:
                    on_order[(order.location_id, line["sku"])] += line["quantity"]
            lines = [
                StockLine(
                    location_id=stock.location_id,
                    sku=stock.sku,
                    category=category,
                    on_hand=stock.on_hand,
                    available=stock.on_hand
                    - stock.reserved
                    + on_order[(stock.location_id, stock.sku)],
                    weekly_sales=stock.sold_last_7_days,
                )
                for stock, category in rows
            ]
        return StockSnapshot(stock_lines=lines, snapshot_at=office.clock.now().isoformat())

    @handlers.handler("inventory.plan_replenishment")
    def plan(request: ReplenishmentRequest, context: HandlerContext) -> dict[str, object]:
        """Split what is below its reorder point into transfers and supplier reorders (see
        ``plan_replenishment``), leaving out lines reordered within
        ``REORDER_REVIEW_PERIOD``, and note the new reorders."""

        def effect(session: Session) -> dict[str, object]:
            plan = plan_replenishment(request.stock_lines, request.replenishment_rules)
            now = office.clock.now()
            reorders = []
            for reorder in plan.reorders:
                key = (reorder.location_id, reorder.sku)
                last = session.get(ReorderRequest, key)
                if last is not None and last.requested_at + REORDER_REVIEW_PERIOD > now:
                    continue
                session.merge(ReorderRequest(location_id=key[0], sku=key[1], requested_at=now))
                reorders.append(reorder)
            return ReplenishmentPlan(transfers=plan.transfers, reorders=reorders).model_dump()

        return office.once(context.idempotency_key, effect)

    @handlers.handler("inventory.transfer")
    def transfer(request: TransferRequest, context: HandlerContext) -> dict[str, object]:
        """Move the stock between locations, as much as the source still has available."""
        move = request.transfer

        def effect(session: Session) -> dict[str, object]:
            source = session.get(Stock, (move.from_location, move.sku), with_for_update=True)
            quantity = min(move.quantity, source.on_hand - source.reserved if source else 0)
            if source is None or quantity <= 0:
                return {"transferred": 0}
            target = stock_to_fill(session, move.to_location, move.sku)
            source.on_hand -= quantity
            target.on_hand += quantity
            return {"transferred": quantity}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("inventory.find_slow_movers")
    def find_slow_movers(request: SlowMoverRequest, context: HandlerContext) -> dict[str, object]:
        """The slow movers (see ``slow_movers``) marketing has not heard of within
        ``SLOW_MOVER_QUIET``: a clearance campaign is started once, not every cycle."""

        def effect(session: Session) -> dict[str, object]:
            now = office.clock.now()
            news = []
            for sku in slow_movers(request.stock_lines):
                flag = session.get(SlowMoverFlag, sku)
                if flag is None:
                    session.add(SlowMoverFlag(sku=sku, flagged_at=now))
                elif flag.flagged_at + SLOW_MOVER_QUIET <= now:
                    flag.flagged_at = now
                else:
                    continue
                news.append(sku)
            return {"slow_movers": news}

        return office.once(context.idempotency_key, effect)

    return handlers
