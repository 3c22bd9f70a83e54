"""How fast the cockpit answers over 100,000 instances with their history, against a 1 s target.

    python benchmarks/cockpit_pages.py [--instances 100000] [--runs 5] [--postgres]

Deploys the shipped processes, then seeds the instances and history tables directly (rows as
the store writes them, without running a process: ~40 history rows an instance, a walk through
the first 13 elements of its process, the open ones stopping part way), in a fresh SQLite file
or, with ``--postgres``, in a throwaway schema of the test server
($RETAILFLOW_TEST_POSTGRES_URL). Instances start one a minute and the last ones now, so
100,000 span ten weeks. Then it times requests through the whole app (token check, query,
JSON or HTML) with FastAPI's test client: the median of ``--runs`` requests, in
milliseconds, and its ratio to the first. ``GET /api/v1/instances`` searches (the
``/instances`` page calls the same search); ``GET /api/v1/processes`` and ``GET /metrics``
count every instance; the process page (KPIs and heatmap, over the last 7 days by default)
and ``GET /api/v1/processes/{id}/kpis`` (with ``since`` a week ago, and over all time) read
the history.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import create_engine, insert
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from retailflow import Engine
from retailflow.cockpit import create_app
from retailflow.cockpit.auth import create_token
from retailflow.model import HistoryKind, Role
from retailflow.retail import shipped_processes
from retailflow.stores.sql.schema import history, instances

TARGET_SECONDS = 1.0
PROCESSES = ("order_fulfilment", "returns_refunds", "inventory_supply_chain")
CHANNELS = ("web", "store", "app", "marketplace")
STATUSES = ("completed",) * 16 + ("running",) * 3 + ("cancelled",)
STEPS = 13
"""Elements an instance walks through: 1 start row + 3 rows per element = 40 history rows."""
BATCH = 20_000
POSTGRES_URL = os.environ.get(
    "RETAILFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def first_start(count: int) -> datetime:
    """When the first of ``count`` instances, one a minute, starts for the last to start now."""
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=count)


def rows(count: int) -> Iterator[dict[str, Any]]:
    """Instances one a minute apart, a mix of processes, statuses and channels."""
    start = first_start(count)
    for n in range(count):
        process_id = PROCESSES[n % len(PROCESSES)]
        status = STATUSES[n % len(STATUSES)]
        started = start + timedelta(minutes=n)
        yield {
            "id": uuid.UUID(int=n).hex,
            "definition_id": f"{process_id}:1",
            "process_id": process_id,
            "business_key": f"SO-{n}",
            "status": status,
            "started_at": started,
            "ended_at": None if status == "running" else started + timedelta(hours=2),
            "parent_id": None,
            "version": 5,
            "variables": {
                "order_id": f"SO-{n}",
                "channel": CHANNELS[n % len(CHANNELS)],
                "amount": n % 500,
            },
            "state": b"",
        }


def walks(engine: Engine) -> dict[str, list[tuple[str, str]]]:
    """Per process, the (element id, element type) of its first ``STEPS`` elements as drawn."""
    found: dict[str, list[tuple[str, str]]] = {}
    for process_id in PROCESSES:
        definition = engine.store.latest_definition(process_id)
        assert definition is not None, process_id
        root = etree.fromstring(engine.store.get_resource(definition.content_hash).content)
        [process] = [p for p in root if p.get("id") == process_id]
        found[process_id] = [
            (element.get("id"), etree.QName(element).localname)
            for element in process
            if etree.QName(element).localname.endswith(("Event", "Task", "Gateway", "Activity"))
        ][:STEPS]
    return found


def history_rows(instance: dict[str, Any], walk: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
    """An instance's rows as the engine appends them: started, then per element entered,
    completed and the flow taken; a running instance stops part way. Sets ``ended_at``."""
    n = int(instance["id"], 16)
    at = instance["started_at"]
    base = {"instance_id": instance["id"], "definition_id": instance["definition_id"]}
    yield {**base, "kind": HistoryKind.INSTANCE_STARTED.value, "at": at}
    reached = len(walk) if instance["status"] != "running" else n % len(walk)
    for step, (element_id, element_type) in enumerate(walk[:reached]):
        element = {**base, "element_id": element_id, "element_type": element_type}
        yield {**element, "kind": HistoryKind.ELEMENT_ENTERED.value, "at": at}
        at += timedelta(seconds=(n * 7 + step * 13) % (3600 if element_type == "userTask" else 5))
        yield {**element, "kind": HistoryKind.ELEMENT_COMPLETED.value, "at": at}
        flow = {**base, "element_id": f"flow_{element_id}", "element_type": "sequenceFlow"}
        yield {**flow, "kind": HistoryKind.SEQUENCE_FLOW_TAKEN.value, "at": at}
    if instance["ended_at"] is not None:
        instance["ended_at"] = at


def seed(url: str, count: int) -> None:
    """Create the schema (as a store does), deploy the shipped processes and insert ``count``
    instances and their history in batches."""
    with Engine(url) as engine:
        engine.deploy(shipped_processes(), require_handlers=False)
        paths = walks(engine)
    engine_ = create_engine(url, poolclass=NullPool)
    pending: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    with engine_.begin() as conn:
        for row in rows(count):
            events.extend(history_rows(row, paths[row["process_id"]]))
            pending.append(row)
            if len(events) >= BATCH:
                flush(conn, pending, events)
        flush(conn, pending, events)
    engine_.dispose()


def flush(conn: Connection, pending: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
    """Insert and forget the instances and history rows gathered so far."""
    if pending:
        conn.execute(insert(instances), pending)
    if events:
        conn.execute(
            insert(history),
            [
                {"element_id": None, "element_type": None, "variables": {}, **event}
                for event in events
            ],
        )
    pending.clear()
    events.clear()


@contextmanager
def database(postgres: bool) -> Iterator[str]:
    """A fresh SQLite file, or a throwaway PostgreSQL schema."""
    if not postgres:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'cockpit.db'}"
        return
    schema = f"retailflow_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, poolclass=NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def searches(count: int) -> list[tuple[str, dict[str, Any]]]:
    """The searches an operator makes, each a query of ``GET /api/v1/instances``."""
    middle = first_start(count) + timedelta(minutes=count // 2)
    return [
        ("first page, newest first", {}),
        ("page 1000 deep (after=)", {"after": uuid.UUID(int=max(0, count - 50_000)).hex}),
        ("oldest first", {"order": "oldest"}),
        ("by process", {"process_id": "returns_refunds"}),
        ("by status running", {"status": "running"}),
        (
            "by process and status",
            {"process_id": "returns_refunds", "status": "cancelled"},
        ),
        ("by business key", {"business_key": f"SO-{count - 7}"}),
        (
            "started between (1 hour)",
            {
                "started_from": middle.isoformat(),
                "started_until": (middle + timedelta(hours=1)).isoformat(),
            },
        ),
        ("variable channel=web", {"variable": "channel", "value": "web"}),
        ("variable, rare value", {"variable": "order_id", "value": f"SO-{count // 3}"}),
        ("variable, no match", {"variable": "order_id", "value": "SO-none"}),
    ]


def history_reads(process_id: str, week_ago: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The requests that read the history: the process page (its default window: the last 7
    days) and the KPI API over a week and over all time ("found": instances counted)."""
    return [
        ("process page (last 7 days)", f"/processes/{process_id}", {}),
        ("process page, all time", f"/processes/{process_id}", {"window": "all"}),
        ("KPI API since a week ago", f"/api/v1/processes/{process_id}/kpis", {"since": week_ago}),
        ("KPI API, all time", f"/api/v1/processes/{process_id}/kpis", {}),
    ]


def timed(client: TestClient, path: str, params: dict[str, Any], runs: int) -> tuple[float, Any]:
    """The median seconds of ``runs`` requests, and the last answer (JSON when it is)."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        answer = client.get(path, params=params)
        times.append(time.perf_counter() - began)
        assert answer.status_code == 200, answer.text
    is_json = answer.headers["content-type"].startswith("application/json")
    return statistics.median(times), answer.json() if is_json else answer.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5, help="requests timed per search")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL, not SQLite")
    options = parser.parse_args()

    with database(options.postgres) as url:
        started = time.perf_counter()
        seed(url, options.instances)
        seconds = time.perf_counter() - started
        print(f"seeded {options.instances:,} instances with history in {seconds:.1f} s")
        with Engine(url) as engine:
            secret = create_token(engine.store, "bench", Role.VIEWER, datetime.now(UTC))
            client = TestClient(create_app(engine), headers={"Authorization": f"Bearer {secret}"})
            results: list[tuple[str, float, int]] = []
            for name, params in searches(options.instances):
                seconds, answer = timed(
                    client, "/api/v1/instances", {"limit": 50, **params}, options.runs
                )
                results.append((name, seconds, len(answer["items"])))
            seconds, answer = timed(client, "/api/v1/processes", {}, options.runs)
            results.append(("GET /api/v1/processes", seconds, len(answer)))
            seconds, _ = timed(client, "/metrics", {}, options.runs)
            results.append(("GET /metrics", seconds, 0))
            week_ago = (datetime.now(UTC) - timedelta(days=7)).isoformat()
            for name, path, params in history_reads("order_fulfilment", week_ago):
                seconds, answer = timed(client, path, params, options.runs)
                started = answer[0]["started"] if isinstance(answer, list) else 0
                results.append((name, seconds, started))
    base = results[0][1]
    store = "PostgreSQL" if options.postgres else "SQLite"
    print(f"\nGET /api/v1/instances?limit=50 and more, {options.instances:,} instances ({store})")
    print(f"{'search':<28} {'found':>6} {'median ms':>10} {'x first':>8} {'< 1 s':>6}")
    for name, seconds, found in results:
        verdict = "yes" if seconds < TARGET_SECONDS else "NO"
        print(f"{name:<28} {found:>6} {seconds * 1000:>10.1f} {seconds / base:>8.2f} {verdict:>6}")


if __name__ == "__main__":
    main()
