"""Shared fixtures: an engine per store kind, so every scenario runs on memory, SQLite and
PostgreSQL.

PostgreSQL runs at ``RETAILFLOW_TEST_POSTGRES_URL``; each test gets a schema of its own, dropped
afterwards, so runs never see each other's rows. A server that is down fails the tests (CI must
not pass by skipping them) unless ``RETAILFLOW_SKIP_POSTGRES=1``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from retailflow import Engine, HandlerRegistry, VirtualClock
from scenario_kit import POSTGRES_URL, EngineFactory


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL URL, once it is known to answer."""
    if os.environ.get("RETAILFLOW_SKIP_POSTGRES") == "1":
        pytest.skip("RETAILFLOW_SKIP_POSTGRES=1")
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect():
            pass
    except OperationalError as error:
        pytest.fail(
            f"PostgreSQL at {POSTGRES_URL} is not reachable: {error}\nStart it, point "
            "RETAILFLOW_TEST_POSTGRES_URL at one, or set RETAILFLOW_SKIP_POSTGRES=1."
        )
    finally:
        engine.dispose()
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose connections work in a fresh, empty schema."""
    schema = f"retailflow_test_{uuid.uuid4().hex[:12]}"
    # No pooling: a test may restart the server, which would leave a pooled connection dead.
    admin = create_engine(postgres_server, poolclass=NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(postgres_server).update_query_dict(
        {"options": f"-csearch_path={schema}", "application_name": schema}
    )
    yield url.render_as_string(hide_password=False)
    with admin.begin() as conn:
        # Connections a test left open (a killed worker's) would hold locks on the schema.
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE application_name = '{schema}'"
        )
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """``None`` (in memory), a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return None if request.param == "memory" else f"sqlite:///{tmp_path / 'engine.db'}"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def make_engine(store_url: str | None, clock: VirtualClock) -> Iterator[EngineFactory]:
    """Build engines on the test's store; every engine made is closed afterwards."""
    made: list[Engine] = []

    def factory(handlers: HandlerRegistry | None = None, **kwargs: object) -> Engine:
        engine = Engine(
            store_url,
            clock=clock,
            handlers=handlers if handlers is not None else HandlerRegistry(),
            **kwargs,
        )  # type: ignore[arg-type]
        made.append(engine)
        return engine

    yield factory
    for engine in made:
        engine.close()
