"""Every store under test: memory, SQLite in memory and on file, and PostgreSQL.

PostgreSQL comes from the ``postgres_url`` fixture (tests/conftest.py): a schema of its own per
test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from retailflow.stores import Store, open_store

BACKENDS = ["memory", "sqlite-memory", "sqlite-file", "postgresql"]
IN_MEMORY = {"memory://", "sqlite://"}


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


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind retailflow migrates: a SQLite file and PostgreSQL."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'retail.db'}"
