"""Every store under test: memory, SQLite in memory and on file, and PostgreSQL.

PostgreSQL runs at ``RETAILFLOW_TEST_POSTGRES_URL``; each test gets a schema of its own, dropped
afterwards, so runs never see each other's rows. A server that is down fails the tests (CI must
not pass by skipping them) unless ``RETAILFLOW_SKIP_POSTGRES=1``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import OperationalError

from retailflow.stores import Store, open_store

POSTGRES_URL = os.environ.get(
    "RETAILFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["memory", "sqlite-memory", "sqlite-file", "postgresql"]
IN_MEMORY = {"memory://", "sqlite://"}


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
    admin = create_engine(postgres_server)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(postgres_server).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of one backend; every test that uses a store runs against each."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return {
        "memory": "memory://",
        "sqlite-memory": "sqlite://",
        "sqlite-file": f"sqlite:///{tmp_path / 'retail.db'}",
    }[request.param]


@pytest.fixture
def open_stores(backend_url: str) -> Iterator[Callable[[], Store]]:
    """Opens stores on the test's data, as separate processes would: a new store (own pool)
    per call on a database, the one store object for in-memory backends, whose data lives in
    the object. All are closed after the test."""
    opened: list[Store] = []

    def open_one() -> Store:
        if not opened or backend_url not in IN_MEMORY:
            opened.append(open_store(backend_url))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_stores: Callable[[], Store]) -> Store:
    """The store under test."""
    return open_stores()
