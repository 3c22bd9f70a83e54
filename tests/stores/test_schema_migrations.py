"""Schema migrations: an empty database, one populated by the previous revision, and one made
before migrations existed all end at the schema the code describes, keeping their data."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from schema_tools import alembic, revision_of, versions
from sqlalchemy import create_engine, inspect, text
from store_builders import at, event, job

import retailflow.stores.sql.schema_version as schema_version
from retailflow import Engine, InstanceStatus, RetailflowError
from retailflow.stores import SqlStore
from retailflow.stores.sql.schema import VERSION_TABLE, metadata
from scenario_kit import FIXTURES, Recorder


def schema_differences(url: str) -> list[object]:
    engine = create_engine(url)
    with engine.connect() as conn:
        differences = compare_metadata(versions(conn), metadata)
    engine.dispose()
    return differences


def test_replaying_every_migration_on_an_empty_database_gives_the_schema_the_code_describes(
    database_url: str,
) -> None:
    alembic(database_url, "upgrade", "head")
    assert schema_differences(database_url) == []
    assert revision_of(database_url) == schema_version.head_revision()


def test_a_store_opened_on_an_empty_database_creates_the_current_schema_and_stamps_it(
    database_url: str,
) -> None:
    SqlStore(database_url).close()
    assert schema_differences(database_url) == []
    assert revision_of(database_url) == schema_version.head_revision()


def stored_ddl(url: str) -> dict[str, str]:
    """What ``compare_metadata`` does not compare: index definitions (partial ``WHERE``
    clauses included) and, on SQLite, each table's DDL (``WITHOUT ROWID``), with the table's
    name unquoted as ``create_all`` writes it (a table a migration rebuilt has it quoted)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                    f"AND name <> '{VERSION_TABLE}'"
                )
            )
        else:
            rows = conn.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                )
            )
        ddl = {
            name: " ".join(sql.replace(f'TABLE "{name}"', f"TABLE {name}").split())
            for name, sql in rows
        }
    engine.dispose()
    return ddl


def test_migrations_and_a_fresh_schema_agree_on_partial_indexes_and_table_options(
    database_url: str,
) -> None:
    alembic(database_url, "upgrade", "head")
    migrated = stored_ddl(database_url)
    alembic(database_url, "downgrade", "base")
    SqlStore(database_url).close()
    assert stored_ddl(database_url) == migrated
    assert "retries_left > 0" in migrated["ix_jobs_claimable"]


def _populate(url: str) -> tuple[str, str]:
    """An instance waiting at its first job and one finished, on the current schema."""
    recorder = Recorder()
    for topic in (
        "orders.validate",
        "inventory.reserve",
        "payment.capture",
        "orders.ship",
        "crm.notify_customer",
    ):
        recorder.add(topic, {})
    with Engine(url, handlers=recorder.registry) as engine:
        engine.deploy(FIXTURES / "order_pipeline.bpmn")
        done = engine.start("order_pipeline", business_key="SO-1")
        engine.run()
        waiting = engine.start("order_pipeline", business_key="SO-2")
    return waiting.id, done.id


@pytest.mark.parametrize("previous", ["0001", "0002", "0004_cockpit_tokens_and_actor"])
def test_a_database_at_a_previous_revision_is_upgraded_on_open_and_keeps_its_instances(
    database_url: str, previous: str
) -> None:
    waiting, done = _populate(database_url)
    alembic(database_url, "downgrade", previous)
    columns = {c["name"] for c in inspect(create_engine(database_url)).get_columns("history")}
    assert ("process_id" in columns) == (previous > "0002")
    recorder = Recorder()
    for topic in (
        "orders.validate",
        "inventory.reserve",
        "payment.capture",
        "orders.ship",
        "crm.notify_customer",
    ):
        recorder.add(topic, {})
    with Engine(database_url, handlers=recorder.registry) as engine:
        assert revision_of(database_url) == schema_version.head_revision()
        assert engine.instance(done).status == InstanceStatus.COMPLETED
        assert engine.run() == 5
        assert engine.instance(waiting).status == InstanceStatus.COMPLETED
    assert schema_differences(database_url) == []


def test_history_rows_converted_down_to_0004_and_back_read_as_they_were_written(
    database_url: str,
) -> None:
    waiting, done = _populate(database_url)
    owner = "schedule:order_pipeline:1"
    store = SqlStore(database_url)
    store.save_definitions([], [], {owner: [job("tick", owner)]})
    # A row of no instance (a start timer's schedule owner) and one naming another definition.
    store.retry_job(
        "tick",
        retries_left=1,
        due_at=at(0),
        history=[
            event(owner, "timer", definition_id="order_pipeline:1", when=1),
            event(waiting, "elsewhere", definition_id="returns:1", when=2),
        ],
    )
    written = {key: store.history(key) for key in (waiting, done, owner)}
    everything = list(store.all_history())
    store.close()
    engine = create_engine(database_url)
    with engine.connect() as conn:
        # An event without variables stores SQL NULL, never JSON 'null'.
        stored = conn.execute(text("SELECT CAST(variables AS TEXT) FROM history")).scalars().all()
    engine.dispose()
    assert None in stored and "null" not in stored

    alembic(database_url, "downgrade", "0004_cockpit_tokens_and_actor")
    engine = create_engine(database_url)
    with engine.connect() as conn:
        old = conn.execute(
            text("SELECT instance_id, kind, job_id, variables FROM history ORDER BY seq")
        ).all()
    engine.dispose()
    assert {row.instance_id for row in old} == {waiting, done, owner}
    assert old[0].kind == "instance_started"
    assert any(row.job_id is not None and len(row.job_id) == 36 for row in old)
    assert all(row.variables not in (None, "null") for row in old)  # 0004 reads a mapping

    reopened = SqlStore(database_url)
    assert revision_of(database_url) == schema_version.head_revision()
    assert {key: reopened.history(key) for key in (waiting, done, owner)} == written
    assert written[owner][0].definition_id == "order_pipeline:1"
    assert written[waiting][-1].definition_id == "returns:1"
    assert list(reopened.all_history()) == everything
    reopened.close()


def test_a_database_made_before_migrations_existed_is_recognised_and_upgraded(
    database_url: str,
) -> None:
    waiting, _ = _populate(database_url)
    alembic(database_url, "downgrade", "0001")
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
    engine.dispose()
    with Engine(database_url) as reopened:
        assert reopened.instance(waiting).status == InstanceStatus.RUNNING
    assert revision_of(database_url) == schema_version.head_revision()


def test_a_store_that_must_not_migrate_refuses_an_old_schema_and_says_how_to_upgrade(
    database_url: str,
) -> None:
    alembic(database_url, "upgrade", "0001")
    with pytest.raises(RetailflowError, match="retailflow db upgrade"):
        SqlStore(database_url, migrate=False)
    SqlStore(database_url).close()
    SqlStore(database_url, migrate=False).close()


def test_a_schema_from_a_newer_retailflow_is_refused_not_guessed_at(database_url: str) -> None:
    SqlStore(database_url).close()
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(RetailflowError, match=r"revision 9999.*upgrade retailflow"):
        SqlStore(database_url)
