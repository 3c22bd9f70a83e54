"""What only the SQL store promises: durability across restarts, UTC datetimes, SQLite in WAL."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import make_url
from store_builders import (
    at,
    definition,
    event,
    incident,
    instance,
    job,
    resource,
    start,
    step,
    subscription,
    user_task,
)

from postgres_sessions import terminate_sessions
from retailflow.model import (
    BufferedMessage,
    RetailflowError,
    StoreUnavailableError,
    SubscriptionKind,
)
from retailflow.stores import MemoryStore, SqlStore, Store, open_store


def test_a_new_store_on_the_same_file_sees_everything(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'retail.db'}"
    first = SqlStore(url)
    first.save_definitions([resource()], [definition()])
    started = start(
        first,
        instance("i1", business_key="SO-1"),
        b"\x00engine state",
        jobs=[job("a"), job("b", due=600, retries=0)],
        subscriptions=[subscription("s1", key="SO-1")],
        user_tasks=[user_task("t1", groups=("finance",))],
        incidents=[incident("x1", "b")],
        history=[event("i1", "start")],
    )
    [claimed] = first.claim_due_jobs(now=at(0), owner="w1", lease_until=at(30), limit=5)
    first.buffer_message(
        BufferedMessage(
            "m1", "shipped", "SO-1", {"carrier": "DHL"}, expires_at=at(60), created_at=at(0)
        )
    )
    first.close()

    reopened = SqlStore(url)

    assert reopened.list_definitions() == [definition()]
    assert reopened.get_resource(resource().content_hash) == resource()
    assert reopened.load_state("i1")[:2] == (started, b"\x00engine state")
    assert reopened.list_jobs() == [claimed, job("b", due=600, retries=0)]
    assert reopened.find_subscriptions(SubscriptionKind.MESSAGE, "paid", "SO-1") == [
        subscription("s1", key="SO-1")
    ]
    assert reopened.list_user_tasks(candidate_group="finance") == [
        user_task("t1", groups=("finance",))
    ]
    assert reopened.list_incidents() == [incident("x1", "b")]
    assert [e.element_id for e in reopened.history("i1")] == ["start"]
    assert [m.variables for m in reopened.take_buffered_messages("shipped", "SO-1", at(1))] == [
        {"carrier": "DHL"}
    ]
    assert reopened.next_due_at() is None
    reopened.close()


def test_a_file_database_runs_in_wal_mode_so_readers_do_not_block_the_writer(
    tmp_path: Path,
) -> None:
    path = tmp_path / "retail.db"
    SqlStore(f"sqlite:///{path}").close()

    with sqlite3.connect(path) as outside:
        assert outside.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize(
    "backend_url", ["sqlite-memory", "sqlite-file", "postgresql"], indirect=True
)
def test_datetimes_come_back_in_utc_whatever_zone_went_in(store: Store) -> None:
    shanghai = timezone(timedelta(hours=8))
    local_start = at(0).astimezone(shanghai)
    start(
        store,
        replace(instance("i1"), started_at=local_start),
        jobs=[replace(job("a"), due_at=at(5).astimezone(shanghai))],
    )

    started_at = store.get_instance("i1").started_at
    due_at = store.get_job("a").due_at

    assert (started_at, due_at) == (at(0), at(5))
    assert started_at.utcoffset() == due_at.utcoffset() == timedelta(0)
    assert [
        j.id
        for j in store.claim_due_jobs(
            now=at(5).astimezone(shanghai), owner="w", lease_until=at(9), limit=1
        )
    ] == ["a"]
    store.fail_job(
        "a",
        owner="w",
        error="down",
        retries_left=0,
        due_at=at(20).astimezone(shanghai),
        incident=None,
        history=[],
    )
    assert store.get_job("a").due_at == at(20)
    store.retry_job("a", retries_left=1, due_at=at(30).astimezone(shanghai), history=[])
    assert store.next_due_at() == at(30)
    assert store.next_due_at().utcoffset() == timedelta(0)  # type: ignore[union-attr]


def test_open_store_keeps_memory_urls_in_memory_and_opens_databases_otherwise(
    tmp_path: Path,
) -> None:
    assert isinstance(open_store(None), MemoryStore)
    assert isinstance(open_store("memory://"), MemoryStore)
    on_file = open_store(f"sqlite:///{tmp_path / 'retail.db'}")
    assert isinstance(on_file, SqlStore)
    on_file.close()


@pytest.mark.parametrize("backend_url", ["sqlite-file", "postgresql"], indirect=True)
def test_an_operation_the_database_refuses_is_a_retailflow_error_that_says_so(store: Store) -> None:
    assert isinstance(store, SqlStore)
    with store._engine.begin() as conn:  # a damaged schema: the table is gone
        conn.exec_driver_sql("DROP TABLE jobs")
    with pytest.raises(RetailflowError, match="refused the operation") as raised:
        store.list_jobs()
    assert not isinstance(raised.value, StoreUnavailableError)  # no point waiting it out


def test_a_database_without_a_driver_here_is_refused_with_what_works() -> None:
    with pytest.raises(
        RetailflowError, match=r"no database driver for mysql.*retailflow\[postgres\]"
    ):
        open_store("mysql://shop@db/retail")


def test_a_commit_on_connections_the_server_dropped_is_unavailable_once_then_succeeds(
    postgres_url: str,
) -> None:
    store = SqlStore(postgres_url)
    store.save_definitions([resource()], [definition()])
    first = start(store, instance("i1"), jobs=[job("a")])
    # Several pooled connections, each of which the server then drops (as in a restart).
    held = [store._engine.connect() for _ in range(3)]
    for conn in held:
        conn.close()
    # Only this test's own backends: the fixture gives its connections a unique name.
    application_name = make_url(postgres_url).query["application_name"]
    terminated = terminate_sessions(postgres_url, application_name)
    assert terminated >= 3

    with pytest.raises(StoreUnavailableError):
        step(store, first, jobs=[job("b")])
    # The dropped connections went with the failed commit: the retry finds a live one.
    second = step(store, first, jobs=[job("b")])

    assert store.get_instance("i1").version == second.version
    assert [j.id for j in store.list_jobs(instance_id="i1")] == ["b"]
    store.close()
