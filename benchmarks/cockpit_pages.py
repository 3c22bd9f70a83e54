"""How fast the cockpit's instance search answers over 100,000 instances, against a 1 s target.

    python benchmarks/cockpit_pages.py [--instances 100000] [--runs 5] [--postgres]

Seeds the instances table directly (rows as the store writes them, without running a process:
a search reads only the instance rows), in a fresh SQLite file or, with ``--postgres``, in a
throwaway schema of the test server ($RETAILFLOW_TEST_POSTGRES_URL), then times
``GET /api/v1/instances`` through the whole app (token check, query, JSON) with FastAPI's test
client: the median of ``--runs`` requests per search, in milliseconds, and its ratio to the
first page. The ``/instances`` page of the cockpit calls the same search. Two more rows time
what counts every instance: ``GET /api/v1/processes`` (counts by process and status) and
``GET /metrics``.
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
from sqlalchemy import create_engine, insert
from sqlalchemy.pool import NullPool

from retailflow import Engine
from retailflow.cockpit import create_app
from retailflow.cockpit.auth import create_token
from retailflow.model import Role
from retailflow.stores.sql.schema import instances

TARGET_SECONDS = 1.0
PROCESSES = ("order_fulfilment", "returns", "replenishment")
CHANNELS = ("web", "store", "app", "marketplace")
STATUSES = ("completed",) * 16 + ("running",) * 3 + ("cancelled",)
START = datetime(2026, 1, 1, tzinfo=UTC)
POSTGRES_URL = os.environ.get(
    "RETAILFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def rows(count: int) -> Iterator[dict[str, Any]]:
    """Instances one a minute apart, a mix of processes, statuses and channels."""
    for n in range(count):
        process_id = PROCESSES[n % len(PROCESSES)]
        status = STATUSES[n % len(STATUSES)]
        started = START + timedelta(minutes=n)
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


def seed(url: str, count: int) -> None:
    """Create the schema (as a store does) and insert ``count`` instances in batches."""
    Engine(url).close()
    engine = create_engine(url, poolclass=NullPool)
    batch: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for row in rows(count):
            batch.append(row)
            if len(batch) == 5000:
                conn.execute(insert(instances), batch)
                batch = []
        if batch:
            conn.execute(insert(instances), batch)
    engine.dispose()


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
    middle = START + timedelta(minutes=count // 2)
    return [
        ("first page, newest first", {}),
        ("page 1000 deep (after=)", {"after": uuid.UUID(int=count - 50_000).hex}),
        ("oldest first", {"order": "oldest"}),
        ("by process", {"process_id": "returns"}),
        ("by status running", {"status": "running"}),
        ("by process and status", {"process_id": "returns", "status": "cancelled"}),
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
        print(f"seeded {options.instances:,} instances in {time.perf_counter() - started:.1f} s")
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
    base = results[0][1]
    store = "PostgreSQL" if options.postgres else "SQLite"
    print(f"\nGET /api/v1/instances?limit=50 and more, {options.instances:,} instances ({store})")
    print(f"{'search':<28} {'found':>5} {'median ms':>10} {'x first':>8} {'< 1 s':>6}")
    for name, seconds, found in results:
        verdict = "yes" if seconds < TARGET_SECONDS else "NO"
        print(f"{name:<28} {found:>5} {seconds * 1000:>10.1f} {seconds / base:>8.2f} {verdict:>6}")


if __name__ == "__main__":
    main()
