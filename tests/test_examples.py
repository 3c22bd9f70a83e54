"""The examples stay runnable: each is run as a user would run it."""

from __future__ import annotations

import subprocess
import sys

from scenario_kit import ROOT


def test_the_order_app_example_takes_four_paths_of_the_order_flow() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "order_app.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "SO-1: completed, ended at order_delivered" in result.stdout
    assert "SO-2: completed, ended at order_cancelled_unpaid" in result.stdout
    assert "SO-3: completed, ended at order_rejected" in result.stdout
    assert "SO-4: completed, ended at order_delivered" in result.stdout
    assert "incident at ship_order" in result.stdout


def test_the_async_app_example_serves_two_orders_at_once_from_async_endpoints() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "async_app.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "packed 2 orders" in result.stdout
    # The carrier's async client, made by the first shipment, served the second one too.
    assert "WEB-1: completed, tracking TRK-WEB-1" in result.stdout
    assert "WEB-2: completed, tracking TRK-WEB-2" in result.stdout
