"""``/metrics`` in Prometheus text format, for the cockpit and ``retailflow worker``.

The store's numbers (instances by process and status, jobs due / scheduled / claimed /
failed, open incidents) are read at scrape time, so every scraper sees the shared store
whatever process it asks; handler durations are this process's own (a worker's handlers run
in the worker), a histogram by job type and outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from retailflow.cockpit.auth import Viewer
from retailflow.engine import handler_timing
from retailflow.stores import Store

HANDLER_SECONDS = Histogram(
    "retailflow_handler_duration_seconds",
    "How long handlers ran, by job type and outcome (completed, bpmn_error, failed).",
    ["topic", "outcome"],
    registry=None,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
"""Observed for every handler call of this process once ``metrics_registry`` was called."""


def _observe(topic: str, seconds: float, outcome: str) -> None:
    HANDLER_SECONDS.labels(topic, outcome).observe(seconds)


class StoreCollector(Collector):
    """The store's counts, read at each scrape."""

    def __init__(self, store: Store, now: Callable[[], datetime]) -> None:
        self._store = store
        self._now = now

    def collect(self) -> Iterator[Metric]:
        instances = GaugeMetricFamily(
            "retailflow_instances",
            "Instances by process id and status.",
            labels=["process", "status"],
        )
        for (process_id, status), count in sorted(self._store.count_instances().items()):
            instances.add_metric([process_id, status.value], count)
        yield instances
        by_state = self._store.count_jobs(self._now())
        jobs = GaugeMetricFamily(
            "retailflow_jobs",
            "Jobs by state: due (to run now), scheduled (later), claimed (a worker runs "
            "them), failed (out of retries).",
            labels=["state"],
        )
        for state, count in by_state.items():
            jobs.add_metric([state.value], count)
        yield jobs
        yield GaugeMetricFamily(
            "retailflow_incidents_open",
            "Open incidents: jobs out of retries waiting for an operator.",
            value=len(self._store.list_incidents()),
        )


def metrics_registry(store: Store, now: Callable[[], datetime]) -> CollectorRegistry:
    """A registry with the store's counts and this process's handler durations."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, now))
    registry.register(HANDLER_SECONDS)
    handler_timing.listen(_observe)
    return registry


def serve_metrics(
    store: Store, now: Callable[[], datetime], *, port: int, host: str
) -> Callable[[], None]:
    """Serve ``/metrics`` on ``host:port`` from a background thread (``retailflow worker
    --metrics-port``); returns what stops it. Unlike the cockpit it asks no token: bind it
    where only the scraper reaches it (the default is 127.0.0.1)."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host, registry=metrics_registry(store, now))

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def metrics(request: Request, _: Viewer) -> Response:
    """The Prometheus exposition of the cockpit's store (a viewer token is enough)."""
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
