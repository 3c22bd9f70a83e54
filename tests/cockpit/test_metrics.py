"""``/metrics`` in Prometheus text format: the store's counts on every store kind, and the
handler durations of the process that ran them; the worker serves the same on its own port."""

from __future__ import annotations

import socket
import urllib.request

from cockpit_api_kit import ORDER_PROCESS, Cockpit
from prometheus_client.parser import text_string_to_metric_families

from retailflow import Engine, SystemClock
from retailflow.cockpit.metrics import serve_metrics


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_instances_jobs_incidents_and_time_handlers(cockpit: Cockpit) -> None:
    cockpit.start_order("SO-1")
    cockpit.stock.broken = True
    cockpit.start_order("SO-2")
    assert cockpit.anonymous.get("/metrics").status_code == 401

    answer = cockpit.viewer.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = _samples(answer.text)
    running = (("process", ORDER_PROCESS), ("status", "running"))
    assert samples[("retailflow_instances", running)] == 2
    assert samples[("retailflow_jobs", (("state", "failed"),))] == 1
    assert samples[("retailflow_jobs", (("state", "scheduled"),))] == 1  # SO-1's payment timer
    assert samples[("retailflow_incidents_open", ())] == 1
    reserve = (("outcome", "completed"), ("topic", "inventory.reserve"))
    failed = (("outcome", "failed"), ("topic", "inventory.reserve"))
    assert samples[("retailflow_handler_duration_seconds_count", reserve)] >= 1
    assert samples[("retailflow_handler_duration_seconds_count", failed)] >= 3


def test_a_worker_serves_metrics_on_its_own_port() -> None:
    engine = Engine()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stop = serve_metrics(engine.store, SystemClock().now, port=port, host="127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
            text = answer.read().decode()
    finally:
        stop()
    assert _samples(text)[("retailflow_incidents_open", ())] == 0
    assert "retailflow_handler_duration_seconds" in text
