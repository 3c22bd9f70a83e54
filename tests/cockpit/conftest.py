"""A cockpit over an engine on every store kind (memory, SQLite, PostgreSQL), with the small
order flow deployed, a viewer's and an operator's token, and clients for each."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from cockpit_api_kit import ORDER, ORDER_PROCESS, Cockpit, Stock
from fastapi.testclient import TestClient

from retailflow import RetryPolicy, VirtualClock
from retailflow.cockpit import create_app
from retailflow.cockpit.auth import create_token
from retailflow.model import Role
from scenario_kit import FIXTURES, EngineFactory, Recorder

# Tests written before cockpit_api_kit held these import them from here.
__all__ = ["ORDER", "ORDER_PROCESS", "Cockpit", "Stock", "cockpit"]


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
