"""A cockpit over an engine on every store kind (memory, SQLite, PostgreSQL), with the small
order flow deployed, a viewer's and an operator's token, and clients for each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from retailflow import Engine, RetryPolicy, VirtualClock
from retailflow.cockpit import create_app
from retailflow.cockpit.auth import create_token
from retailflow.model import Role
from scenario_kit import FIXTURES, EngineFactory, Recorder

ORDER = {"order_id": "SO-1", "customer_id": "C-1", "items": [{"sku": "TEA", "quantity": 2}]}
ORDER_PROCESS = "order_fulfilment_c8"


class Stock:
    """``inventory.reserve`` fails while ``broken`` (an incident after its retries), and
    succeeds when the order says ``warehouse_open``."""

    def __init__(self) -> None:
        self.broken = False

    def reserve(self, variables: dict[str, Any]) -> dict[str, Any]:
        if self.broken and not variables.get("warehouse_open"):
            raise ConnectionError("warehouse system down")
        return {"stock_reserved": True}


@dataclass
class Cockpit:
    """The engine behind the app, and clients: without a token, a viewer's, an operator's."""

    engine: Engine
    clock: VirtualClock
    stock: Stock
    anonymous: TestClient
    viewer: TestClient
    operator: TestClient

    def start_order(self, key: str = "SO-1", **variables: Any) -> str:
        """Start an order through the API and run its jobs; returns the instance id."""
        answer = self.operator.post(
            f"/api/v1/processes/{ORDER_PROCESS}/instances",
            json={"business_key": key, "variables": {**ORDER, "order_id": key, **variables}},
        )
        assert answer.status_code == 201, answer.text
        self.engine.run()
        return str(answer.json()["id"])


@pytest.fixture
def cockpit(make_engine: EngineFactory, clock: VirtualClock) -> Iterator[Cockpit]:
    stock = Stock()
    handlers = Recorder()
    handlers.add("inventory.reserve", stock.reserve)
    handlers.add("inventory.release", {"stock_reserved": False})
    handlers.add("orders.ship", {"tracking_number": "TRK-1"})
    handlers.add("crm.notify_customer")
    handlers.add("test.discount")
    handlers.add("test.announce")
    engine = make_engine(handlers.registry, retry_policy=RetryPolicy(initial_backoff=timedelta(0)))
    engine.deploy(FIXTURES / "order_fulfilment_c8.bpmn", FIXTURES / "signals.bpmn")
    app = create_app(engine, max_body_bytes=64 * 1024)
    tokens = {
        role: create_token(engine.store, f"{role.value}-ann", role, clock.now()) for role in Role
    }
    with (
        TestClient(app) as anonymous,
        TestClient(app, headers={"Authorization": f"Bearer {tokens[Role.VIEWER]}"}) as viewer,
        TestClient(app, headers={"Authorization": f"Bearer {tokens[Role.OPERATOR]}"}) as operator,
    ):
        yield Cockpit(engine, clock, stock, anonymous, viewer, operator)
