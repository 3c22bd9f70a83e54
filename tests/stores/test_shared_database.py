"""A database retailflow shares with an application: retailflow's tables and schema revision
stay apart from the application's (its own ``alembic_version``, an ``instances`` of its own),
two retailflows can live in one database in schemas of their own, and a URL that names no
database retailflow can open fails at once instead of being waited out as an outage."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from schema_tools import alembic, revision_of
from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

import retailflow.stores.sql.schema_version as schema_version
from retailflow import Engine, InstanceStatus, RetailflowError, StoreUnavailableError, Worker
from retailflow.cli.app import app
from retailflow.stores import SqlStore
from retailflow.stores.sql.schema import VERSION_TABLE
from scenario_kit import FIXTURES, Recorder
from throwaway_postgres import ThrowawayPostgres, _free_port

APP_REVISION = "a1b2c3d4e5f6"
TOPICS = (
    "orders.validate",
    "inventory.reserve",
    "payment.capture",
    "orders.ship",
    "crm.notify_customer",
)


def run_sql(url: str, *statements: str) -> list[list[tuple[object, ...]]]:
    """The application's own statements, on a connection of its own; each one's rows."""
    engine = create_engine(make_url(url).difference_update_query(["schema"]), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            results = [conn.execute(text(statement)) for statement in statements]
            return [list(map(tuple, r)) if r.returns_rows else [] for r in results]
    finally:
        engine.dispose()


def give_app_its_alembic_version(url: str, *revisions: str) -> None:
    run_sql(
        url,
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
        *(f"INSERT INTO alembic_version VALUES ('{revision}')" for revision in revisions),
    )


def app_revisions(url: str) -> list[str]:
    [rows] = run_sql(url, "SELECT version_num FROM alembic_version ORDER BY version_num")
    return [str(revision) for (revision,) in rows]


def run_an_order(url: str, business_key: str) -> str:
    recorder = Recorder()
    for topic in TOPICS:
        recorder.add(topic, {})
    with Engine(url, handlers=recorder.registry) as engine:
        engine.deploy(FIXTURES / "order_pipeline.bpmn")
        instance = engine.start("order_pipeline", business_key=business_key)
        assert engine.run() == len(TOPICS)
        return instance.id


def test_retailflow_keeps_its_revision_in_its_own_table_and_leaves_the_apps_alone(
    database_url: str,
) -> None:
    give_app_its_alembic_version(database_url, APP_REVISION)
    run_an_order(database_url, "SO-1")
    assert app_revisions(database_url) == [APP_REVISION]
    assert revision_of(database_url) == schema_version.head_revision()


@pytest.mark.parametrize("app_row", [False, True], ids=["retailflow-only", "shared-with-app"])
def test_a_revision_an_earlier_retailflow_kept_in_alembic_version_moves_to_its_own_table(
    database_url: str, app_row: bool
) -> None:
    recorder = Recorder()
    for topic in TOPICS:
        recorder.add(topic, {})
    with Engine(database_url, handlers=recorder.registry) as engine:
        engine.deploy(FIXTURES / "order_pipeline.bpmn")
        waiting = engine.start("order_pipeline", business_key="SO-1").id
    alembic(database_url, "downgrade", "0002")
    # As retailflow up to 0003 left it: its row in alembic_version, maybe beside the app's.
    run_sql(database_url, f"DROP TABLE {VERSION_TABLE}")
    give_app_its_alembic_version(database_url, "0002", *([APP_REVISION] if app_row else []))
    assert SqlStore.schema_revision(database_url) == "0002"

    with Engine(database_url, handlers=recorder.registry) as engine:
        assert engine.run() == len(TOPICS)
        assert engine.instance(waiting).status == InstanceStatus.COMPLETED

    assert revision_of(database_url) == schema_version.head_revision()
    engine_ = create_engine(database_url)
    has_legacy_table = inspect(engine_).has_table("alembic_version")
    engine_.dispose()
    if app_row:
        assert app_revisions(database_url) == [APP_REVISION]
    else:
        assert not has_legacy_table


def test_tables_named_like_retailflows_that_it_did_not_create_are_refused_not_adopted(
    database_url: str,
) -> None:
    run_sql(
        database_url,
        "CREATE TABLE instances (order_no VARCHAR(20) PRIMARY KEY)",
        "INSERT INTO instances VALUES ('APP-1')",
    )
    with pytest.raises(RetailflowError, match=r"named like retailflow's \(instances\).*schema"):
        SqlStore(database_url)
    [rows] = run_sql(database_url, "SELECT order_no FROM instances")
    assert rows == [("APP-1",)]
    engine = create_engine(database_url)
    assert set(inspect(engine).get_table_names()) == {"instances"}  # nothing half-created
    engine.dispose()


@pytest.fixture
def retailflow_schemas(postgres_url: str) -> Iterator[list[str]]:
    """Two schema names for retailflows beside the application's (``postgres_url``'s own);
    dropped after the test."""
    stem = f"rf_{uuid.uuid4().hex[:10]}"
    names = [f"{stem}_a", f"{stem}_b"]
    yield names
    run_sql(postgres_url, *(f'DROP SCHEMA IF EXISTS "{name}" CASCADE' for name in names))


def in_schema(url: str, schema: str) -> str:
    return make_url(url).update_query_dict({"schema": schema}).render_as_string(False)


def test_two_retailflows_in_schemas_of_their_own_run_beside_an_apps_same_named_tables(
    postgres_url: str, retailflow_schemas: list[str]
) -> None:
    run_sql(
        postgres_url,
        "CREATE TABLE instances (order_no VARCHAR(20) PRIMARY KEY)",
        "INSERT INTO instances VALUES ('APP-1')",
    )
    give_app_its_alembic_version(postgres_url, APP_REVISION)
    first_schema, second_schema = retailflow_schemas
    first, second = in_schema(postgres_url, first_schema), in_schema(postgres_url, second_schema)

    ran = {url: run_an_order(url, key) for url, key in ((first, "SO-A"), (second, "SO-B"))}

    for url, key in ((first, "SO-A"), (second, "SO-B")):
        with Engine(url) as engine:
            [only] = engine.instances()
            assert (only.id, only.business_key) == (ran[url], key)
            assert only.status == InstanceStatus.COMPLETED
        assert SqlStore.schema_revision(url) == schema_version.head_revision()
    [rows] = run_sql(postgres_url, "SELECT order_no FROM instances")
    assert rows == [("APP-1",)]
    assert app_revisions(postgres_url) == [APP_REVISION]
    [indexed] = run_sql(
        postgres_url,
        "SELECT schemaname FROM pg_indexes WHERE indexname = 'ix_jobs_claimable' "
        f"AND schemaname IN ('{first_schema}', '{second_schema}') ORDER BY schemaname",
    )
    assert [schema for (schema,) in indexed] == [first_schema, second_schema]
    status = CliRunner().invoke(app, ["db", "status", "--db", first, "--json"])
    assert status.exit_code == 0, status.output
    assert '"current": true' in status.output


def test_history_in_a_schema_of_its_own_is_converted_on_open_beside_an_apps_history(
    postgres_url: str, retailflow_schemas: list[str]
) -> None:
    run_sql(
        postgres_url,
        "CREATE TABLE history (line VARCHAR(20) PRIMARY KEY)",
        "INSERT INTO history VALUES ('APP-1')",
    )
    schema = retailflow_schemas[0]
    url = in_schema(postgres_url, schema)
    done = run_an_order(url, "SO-A")
    with Engine(url) as engine:
        written = engine.history(done)
    only_retailflows = make_url(postgres_url).update_query_dict(
        {"options": f"-csearch_path={schema}"}
    )
    alembic(only_retailflows.render_as_string(False), "downgrade", "0004_cockpit_tokens_and_actor")

    with Engine(url) as engine:
        assert SqlStore.schema_revision(url) == schema_version.head_revision()
        assert engine.history(done) == written
        second = engine.start("order_pipeline", business_key="SO-B")
        assert engine.history(second.id)[0].instance_id == second.id
    [rows] = run_sql(postgres_url, "SELECT line FROM history")
    assert rows == [("APP-1",)]


def test_a_schema_on_sqlite_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(RetailflowError, match=r"PostgreSQL option.*database file of its own"):
        Engine(f"sqlite:///{tmp_path / 'retail.db'}?schema=retailflow")


def mistyped_urls(tmp_path: Path, postgres_url: str) -> dict[str, tuple[str, str, str]]:
    """URLs an operator gets wrong: each with what a store's error must say, and the part of
    the URL that the command line's message (which checks a SQLite path itself) must name."""
    missing, port, folder = f"tset_{uuid.uuid4().hex[:8]}", _free_port(), tmp_path / "no-such"
    return {
        "database": (
            make_url(postgres_url).set(database=missing).render_as_string(False),
            f'database "{missing}" does not exist',
            missing,
        ),
        "port": (
            make_url(postgres_url).set(port=port).render_as_string(False),
            "Connection refused",
            f":{port}/",
        ),
        "folder": (
            f"sqlite:///{folder / 'retail.db'}",
            f"folder {folder} does not exist",
            str(folder),
        ),
    }


@pytest.mark.parametrize("mistake", ["database", "port", "folder"])
def test_a_mistyped_url_fails_at_once_naming_the_problem_in_python_and_on_the_command_line(
    mistake: str, tmp_path: Path, postgres_url: str
) -> None:
    url, said, named = mistyped_urls(tmp_path, postgres_url)[mistake]
    for open_it in (lambda: Engine(url), lambda: Worker(url, Recorder().registry)):
        with pytest.raises(RetailflowError, match="cannot open the database") as raised:
            open_it()
        assert said in str(raised.value)
        assert not raised.value.retryable  # not StoreUnavailableError: nothing to wait for
    for command in (["db", "status"], ["db", "upgrade"], ["instances"]):
        result = CliRunner().invoke(app, [*command, "--db", url], env={"COLUMNS": "1000"})
        assert result.exit_code != 0
        assert not isinstance(result.exception, StoreUnavailableError)
        assert named in " ".join(f"{result.exception} {result.output}".split())


@pytest.fixture
def own_postgres() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres()
    try:
        yield server
    finally:
        server.destroy()


def test_an_outage_after_the_store_opened_is_still_one_to_wait_out(
    own_postgres: ThrowawayPostgres,
) -> None:
    own_postgres.start()
    store = SqlStore(own_postgres.url)
    try:
        assert store.list_definitions() == []
        own_postgres.stop()
        with pytest.raises(StoreUnavailableError, match="unavailable"):
            store.list_definitions()
        with pytest.raises(RetailflowError, match="cannot open the database") as raised:
            SqlStore(own_postgres.url)  # a new store on a server that is down: a URL mistake?
        assert not raised.value.retryable
        own_postgres.start()
        assert store.list_definitions() == []
    finally:
        store.close()
