"""Driving a live cockpit in a real Chromium: the app on uvicorn, a worker, a seeded store.

The store (a SQLite file) holds one process, ``order_check``, with instances in every state a
page shows: orders whose stock reservation failed (incidents), orders waiting for approval
(user tasks with a Camunda form), orders waiting for payment (message subscriptions and a
timer), and completed ones (the heatmap's traffic). The cockpit serves it as
``retailflow cockpit`` does (an engine without handlers); a ``Worker`` with the handlers runs
the jobs a retry makes due, as ``retailflow worker`` would. The browser is the machine's
Chromium, driven by Playwright, which never downloads one.
"""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import Browser, Page

from retailflow import Engine, HandlerRegistry
from retailflow.cockpit.auth import create_token
from retailflow.model import Role

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROCESS_FILE = Path(__file__).with_name("order_check.bpmn")
SCREENSHOTS = Path(__file__).resolve().parents[3] / "cockpit-screenshots"
DEADLINE_MS = 20_000
"""How long a page may take to show what the worker did: generous, the machine is shared."""


@dataclass(frozen=True)
class Cockpit:
    """The running cockpit: its address, tokens, and the seeded orders by business key."""

    url: str
    operator_token: str
    viewer_token: str
    orders: dict[str, str]


def handlers() -> HandlerRegistry:
    """The shop's one handler: reserving stock fails for the SKU nobody has."""
    registry = HandlerRegistry()

    @registry.handler("stock.reserve")
    def reserve(sku: str) -> dict[str, Any]:
        if sku == "OUT":
            raise RuntimeError("no stock of SKU 'OUT' in any warehouse")
        return {"reserved": True}

    return registry


def seed(url: str) -> tuple[str, str, dict[str, str]]:
    """Deploy the process, start orders into every state, create one token per role."""
    with Engine(url, handlers=handlers()) as engine:
        engine.deploy(PROCESS_FILE)
        orders = {}
        for key, sku in [
            ("SO-1001", "OUT"),
            ("SO-1002", "OUT"),
            ("SO-1003", "A"),
            ("SO-1004", "A"),
            ("SO-1005", "A"),
            ("SO-1006", "A"),
        ]:
            variables = {"order_id": key, "sku": sku, "amount": 40}
            orders[key] = engine.start("order_check", business_key=key, variables=variables).id
        engine.run()
        for key in ("SO-1005", "SO-1006"):
            [task] = engine.tasks(instance=orders[key])
            engine.complete_task(task, {"approved": True})
        engine.correlate("payment_received", key="SO-1006", variables={"paid": True})
        now = engine.clock.now()
        operator = create_token(engine.store, "olivia", Role.OPERATOR, now)
        viewer = create_token(engine.store, "victor", Role.VIEWER, now)
    return operator, viewer, orders


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_answering(url: str, server: uvicorn.Server) -> None:
    """Poll the login page until the server answers (it has no fixed start-up time)."""
    for _ in range(2000):
        if server.started:
            try:
                with urllib.request.urlopen(f"{url}/login", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except urllib.error.URLError:
                pass
        threading.Event().wait(0.01)
    raise AssertionError(f"the cockpit at {url} never answered")


def logged_in(browser: Browser, cockpit: Cockpit, token: str) -> Page:
    """A fresh browser context that logged in with ``token`` through the login page."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(DEADLINE_MS)
    page.goto(f"{cockpit.url}/instances")
    assert "/login" in page.url
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{cockpit.url}/instances")
    return page


def screenshot(page: Page, name: str) -> None:
    """Write the page, whole, to ``cockpit-screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
