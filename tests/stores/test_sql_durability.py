"""What a SQLite store's commits survive, as the user chose, and what an idle run() writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from retailflow import Engine, VirtualClock
from retailflow.model import RetailflowError
from retailflow.stores import SqlStore, open_store

TIMERS = Path(__file__).resolve().parents[1] / "fixtures" / "timers.bpmn"
NORMAL, FULL = 1, 2  # what PRAGMA synchronous reads back


def synchronous(store: object) -> int:
    """The ``synchronous`` setting of the store's own connections: a per-connection PRAGMA,
    so it can only be read on one of them."""
    assert isinstance(store, SqlStore)
    with store._engine.connect() as conn:
        return int(conn.execute(text("PRAGMA synchronous")).scalar_one())


def test_a_file_store_syncs_normally_unless_told_to_survive_power_loss(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'retail.db'}"
    with Engine(url) as default, Engine(url, durability="full") as full:
        assert synchronous(default.store) == NORMAL
        assert synchronous(full.store) == FULL


def test_durability_in_the_url_reaches_the_database_and_not_the_driver(tmp_path: Path) -> None:
    path = tmp_path / "retail.db"
    store = open_store(f"sqlite:///{path}?durability=full")
    try:
        assert synchronous(store) == FULL
        assert store.list_definitions() == []
    finally:
        store.close()
    assert path.exists()


def test_the_argument_overrides_the_url(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'retail.db'}?durability=full", durability="normal")
    try:
        assert synchronous(store) == NORMAL
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "durability", "says"),
    [
        ("sqlite:///x.db?durability=always", None, "'normal'"),
        ("sqlite://", "full", "database file"),
        (None, "full", "in-memory store"),
    ],
)
def test_a_durability_that_cannot_hold_is_refused(
    url: str | None, durability: str | None, says: str
) -> None:
    with pytest.raises(RetailflowError, match=says):
        Engine(url, durability=durability)  # type: ignore[arg-type]


@pytest.fixture
def idle_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a file whose instance waits for a timer due at 09:00, beside a timer start
    event due at 01:00, and whose buffer holds a message nobody waits for yet, at midnight:
    work exists, none of it due."""
    engine = Engine(f"sqlite:///{tmp_path / 'retail.db'}", clock=VirtualClock())
    engine.deploy(TIMERS, require_handlers=False)
    engine.start("timer_date")
    engine.correlate("late_payment", key="SO-1", ttl=timedelta(hours=1))
    yield engine
    engine.close()


def test_a_run_with_nothing_due_opens_no_write_transaction(
    idle_engine: Engine, tmp_path: Path
) -> None:
    # Another process holds the file's write lock: a run() that asked for it (to claim or to
    # purge) would wait the busy timeout out and fail.
    other = sqlite3.connect(tmp_path / "retail.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        assert idle_engine.run() == 0
    finally:
        other.execute("ROLLBACK")
        other.close()
    waiting = idle_engine.jobs()
    assert {job.element_id for job in waiting} == {"wait_until", "every_hour"}
    assert [job.lock_owner for job in waiting] == [None, None]


@pytest.mark.parametrize(("durability", "synchronous_commit"), [("normal", "off"), ("full", "on")])
def test_full_durability_on_postgresql_waits_for_the_wal_flush_whatever_the_session_default(
    postgres_url: str, durability: str, synchronous_commit: str
) -> None:
    url = make_url(postgres_url)
    # Sessions of this URL start with synchronous_commit off, as a server configured for
    # speed would have them: "normal" leaves that alone, "full" turns it on.
    options = f"{url.query['options']} -csynchronous_commit=off"
    url = url.update_query_dict({"options": options, "durability": durability})
    store = open_store(url.render_as_string(hide_password=False))
    try:
        assert isinstance(store, SqlStore)
        with store._engine.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == synchronous_commit
        assert store.list_definitions() == []
    finally:
        store.close()
