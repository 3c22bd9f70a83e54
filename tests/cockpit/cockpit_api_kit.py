"""What the cockpit's API tests share: a cockpit over an engine with the small order flow, and
its clients (the fixture that builds one is in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from retailflow import Engine, VirtualClock

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
