"""Fixtures: a live cockpit over a seeded store, and the machine's Chromium (see
``cockpit_browser``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import uvicorn
from cockpit_browser import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    Cockpit,
    free_port,
    handlers,
    seed,
    wait_until_answering,
)
from playwright.sync_api import Browser, sync_playwright

from retailflow import Engine
from retailflow.cockpit import create_app
from retailflow.engine.worker import Worker, WorkerSettings


@pytest.fixture(scope="module")
def cockpit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cockpit]:
    db = tmp_path_factory.mktemp("cockpit") / "cockpit.db"
    url = f"sqlite:///{db}"
    operator, viewer, orders = seed(url)
    engine = Engine(url)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = threading.Thread(target=server.run, name="cockpit", daemon=True)
    worker = Worker(url, handlers(), settings=WorkerSettings(poll_interval=0.05))
    working = threading.Thread(target=worker.run, name="worker", daemon=True)
    serving.start()
    working.start()
    address = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(address, server)
        yield Cockpit(address, operator, viewer, orders)
    finally:
        server.should_exit = True
        worker.stop()
        serving.join()
        working.join()
        engine.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"the cockpit's browser tests drive Chromium at {CHROMIUM}, which is missing: "
            "install it (apt-get install chromium); these tests never download a browser"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()
