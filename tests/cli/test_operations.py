"""The operations commands over a store, as an operator (or a script, with ``--json``) uses
them: find what is stuck, look at it, retry or cancel it."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from retailflow import Engine, HandlerRegistry, InstanceStatus, RetryPolicy
from retailflow.cli import output
from retailflow.cli.app import app
from retailflow.engine import acting_as
from retailflow.stores.sql.schema_version import head_revision
from scenario_kit import FIXTURES

runner = CliRunner()


def retailflow(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output) if "--json" in args else result.output


@pytest.fixture
def store(tmp_path: Path) -> dict[str, str]:
    """A SQLite store with a finished order, one stuck on an incident, and one waiting."""
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    handlers = HandlerRegistry()
    for topic in ("orders.validate", "inventory.reserve", "orders.ship", "crm.notify_customer"):
        handlers.register(topic, lambda topic=topic: {f"{topic.replace('.', '_')}_ok": True})

    def declined(order_id: str) -> None:
        if order_id == "SO-2":
            raise RuntimeError("card processor timed out")

    handlers.register("payment.capture", declined)
    with Engine(
        url, handlers=handlers, retry_policy=RetryPolicy(initial_backoff=timedelta(0))
    ) as engine:
        engine.deploy(FIXTURES / "order_pipeline.bpmn")
        ids = {
            key: engine.start("order_pipeline", business_key=key, variables={"order_id": key}).id
            for key in ("SO-1", "SO-2")
        }
        engine.run()  # SO-1 finishes; SO-2's payment fails three times: an incident
        ids["SO-3"] = engine.start("order_pipeline", business_key="SO-3").id
    return {"url": url, **ids}


def test_instances_lists_every_instance_and_filters_by_status(store: dict[str, str]) -> None:
    listed = retailflow("instances", "--db", store["url"], "--json")
    assert [(i["business_key"], i["status"]) for i in listed] == [
        ("SO-1", "completed"),
        ("SO-2", "running"),
        ("SO-3", "running"),
    ]
    done = retailflow("instances", "--db", store["url"], "--status", "completed", "--json")
    assert [i["id"] for i in done] == [store["SO-1"]]


def test_show_tells_where_an_instance_waits_and_why_it_is_stuck(store: dict[str, str]) -> None:
    shown = retailflow("show", store["SO-2"], "--db", store["url"], "--json")
    assert shown["status"] == "running"
    assert [(j["element"], j["state"]) for j in shown["jobs"]] == [("capture_payment", "failed")]
    assert shown["variables"]["orders_validate_ok"] is True
    assert shown["incidents"][0]["element"] == "capture_payment"
    assert "card processor timed out" in shown["incidents"][0]["message"]
    people = retailflow("show", store["SO-2"], "--db", store["url"])
    assert "capture_payment" in people and "Incidents" in people


def test_show_json_writes_variables_in_their_stored_form_so_a_script_knows_their_types(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'typed.db'}"
    with Engine(url, handlers=HandlerRegistry()) as engine:
        engine.deploy(FIXTURES / "order_pipeline.bpmn", require_handlers=False)
        instance = engine.start(
            "order_pipeline",
            variables={"due": date(2026, 12, 24), "total": Decimal("19.90"), "note": "2026-12-24"},
        )
    shown = retailflow("show", instance.id, "--db", url, "--json")
    assert shown["variables"] == {
        "due": {"$date": "2026-12-24"},
        "total": {"$decimal": "19.90"},
        "note": "2026-12-24",
    }


def test_jobs_lists_failed_and_due_jobs_separately(store: dict[str, str]) -> None:
    failed = retailflow("jobs", "--db", store["url"], "--state", "failed", "--json")
    assert [(j["element"], j["retries_left"]) for j in failed] == [("capture_payment", 0)]
    assert "card processor timed out" in failed[0]["last_error"]
    due = retailflow("jobs", "--db", store["url"], "--state", "due", "--json")
    assert [(j["element"], j["instance"]) for j in due] == [("validate_order", store["SO-3"])]


def test_retry_makes_the_failed_job_due_again_and_resolves_the_incident(
    store: dict[str, str],
) -> None:
    [incident] = retailflow("incidents", "--db", store["url"], "--json")
    assert incident["instance"] == store["SO-2"]
    assert retailflow(
        "retry", incident["id"], "--db", store["url"], "--retries", "2", "--json"
    ) == [{"target": incident["id"], "jobs_retried": 1}]
    assert retailflow("incidents", "--db", store["url"], "--json") == []
    due = retailflow("jobs", "--db", store["url"], "--state", "due", "--json")
    assert ("capture_payment", 2) in [(j["element"], j["retries_left"]) for j in due]


def test_cancel_ends_an_instance_and_history_shows_every_step(store: dict[str, str]) -> None:
    cancelled = retailflow("cancel", store["SO-3"], "--db", store["url"], "--json")
    assert cancelled == [{"id": store["SO-3"], "status": "cancelled"}]
    with Engine(store["url"]) as engine:
        assert engine.instance(store["SO-3"]).status == InstanceStatus.CANCELLED
    steps = retailflow("history", store["SO-1"], "--db", store["url"], "--json")
    assert steps[0]["kind"] == "instance_started" and steps[-1]["kind"] == "instance_completed"
    assert [s["seq"] for s in steps] == sorted(s["seq"] for s in steps)


def test_db_status_and_upgrade_report_the_schema_revision(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    db.touch()  # an empty database file
    status = runner.invoke(app, ["db", "status", "--db", f"sqlite:///{db}", "--json"])
    assert status.exit_code == 1
    head = head_revision()
    assert json.loads(status.output) == [{"database": "(empty)", "needed": head, "current": False}]
    assert f"schema at revision {head}" in retailflow("db", "upgrade", "--db", str(db))
    assert retailflow("db", "status", "--db", str(db), "--json")[0]["current"] is True


def test_an_unknown_instance_is_an_error_that_says_where_to_look(store: dict[str, str]) -> None:
    result = runner.invoke(app, ["show", "nope", "--db", store["url"]])
    assert result.exit_code != 0
    assert "retailflow instances" in str(result.exception)


def test_looking_into_a_database_never_migrates_it(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.touch()  # no retailflow schema (or an older one)
    result = runner.invoke(app, ["instances", "--db", str(db)])
    assert result.exit_code != 0
    assert "retailflow db upgrade" in str(result.exception)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_looking_into_a_sqlite_file_leaves_its_journal_mode_alone(
    store: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "ops.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    for command in (
        ["instances"],
        ["jobs"],
        ["incidents"],
        ["show", store["SO-2"]],
        ["history", store["SO-1"]],
    ):
        retailflow(*command, "--db", store["url"])
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_instances_page_with_limit_and_after(store: dict[str, str]) -> None:
    first = retailflow("instances", "--db", store["url"], "--limit", "2", "--json")
    assert [i["business_key"] for i in first] == ["SO-1", "SO-2"]
    rest = retailflow(
        "instances", "--db", store["url"], "--limit", "2", "--after", first[-1]["id"], "--json"
    )
    assert [i["business_key"] for i in rest] == ["SO-3"]
    people = retailflow("instances", "--db", store["url"], "--limit", "2")
    assert f"More may follow: --after {store['SO-2']}" in people
    assert "More may follow" not in retailflow("instances", "--db", store["url"])


def test_instances_after_an_unknown_id_says_so(store: dict[str, str]) -> None:
    result = runner.invoke(app, ["instances", "--db", store["url"], "--after", "nope"])
    assert result.exit_code != 0
    assert "nope" in str(result.exception)


def test_history_json_carries_the_variables_and_errors_engine_history_has(
    store: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = retailflow("history", store["SO-2"], "--db", store["url"], "--json")
    with Engine(store["url"]) as engine:
        events = engine.history(store["SO-2"])
    assert [s["variables"] for s in steps] == [e.variables for e in events]
    failures = [s for s in steps if s["kind"] == "job_failed"]
    assert [s["attempt"] for s in failures] == [1, 2, 3]
    assert all("card processor timed out" in s["variables"]["error"] for s in failures)
    assert steps[0]["variables"] == {"order_id": "SO-2"}
    monkeypatch.setattr(output.console, "width", 200)  # each row on one line
    table = retailflow("history", store["SO-2"], "--db", store["url"])
    assert "attempt 3:" in table and "card processor timed out" in table


def test_tables_fit_80_columns_with_whole_instance_ids(
    store: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output.console, "width", 80)
    for command in (["instances"], ["history", store["SO-2"]]):
        shown = retailflow(*command, "--db", store["url"])
        assert max(map(len, shown.splitlines())) <= 80, shown
    listed = retailflow("instances", "--db", store["url"]).splitlines()
    assert [line.split()[0] for line in listed if line.split()[0] in store.values()] == [
        store["SO-1"],
        store["SO-2"],
        store["SO-3"],
    ]


def _rows_at_80_columns(*command: str) -> list[list[str]]:
    """The table a command prints at 80 columns, as the words of each line that starts a row
    (a wrapped cell's next lines start with spaces), after checking that no line is wider."""
    shown = retailflow(*command)
    lines = shown.splitlines()
    assert max(map(len, lines)) <= 80, shown
    rule = next(n for n, line in enumerate(lines) if set(line) == {"─"})
    return [line.split() for line in lines[rule + 1 :] if line[:1].strip()]


def _short(whole: str) -> str:
    """An id as a cut column shows it at 80 columns: whole, or its start and an ellipsis."""
    return whole if len(whole) <= 10 else whole[:9] + "…"


def test_job_and_incident_tables_fit_80_columns_with_ids_on_one_line(
    store: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output.console, "width", 80)
    db = ("--db", store["url"])
    jobs = retailflow("jobs", *db, "--json")
    [incident] = retailflow("incidents", *db, "--json")
    rows = _rows_at_80_columns("jobs", *db)
    # one row per job, each id and instance id on the row's first line, cut with an ellipsis
    assert [row[:2] for row in rows] == [[_short(j["id"]), _short(j["instance"])] for j in jobs]
    failed = next(row for row in rows if "failed" in row)
    # the element wraps in its column; state, due (to the minute) and retries stay whole
    assert failed[2].startswith("capture_pa") and failed[4:6] == [
        *jobs[0]["due_at"][:16].split("T"),
    ]
    assert failed[6] == "0" and failed[7].startswith("RuntimeEr")
    [row] = _rows_at_80_columns("incidents", *db)
    assert row[:3] == [_short(incident["id"]), _short(store["SO-2"]), "capture_payment"]
    assert "card" in row
    shown = retailflow("show", store["SO-2"], *db)
    # the variables are one line the terminal wraps (to copy whole); the tables fit
    assert all(len(line) <= 80 for line in shown.splitlines() if "variables:" not in line)
    assert "card processor timed out" in " ".join(shown.split())
    retailflow("token", "create", "ops-ann-" + "x" * 60, "--role", "operator", *db)
    for table in (["db", "status"], ["cancel", store["SO-3"]], ["token", "list"]):
        assert _rows_at_80_columns(*table, *db)


def test_wider_terminals_show_more_of_each_id(
    store: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output.console, "width", 200)
    [incident] = retailflow("incidents", "--db", store["url"], "--json")
    shown = retailflow("incidents", "--db", store["url"])
    assert incident["id"] in shown and store["SO-2"] in shown


def test_history_names_who_took_a_step(
    store: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with Engine(store["url"]) as engine, acting_as("ana"):
        engine.cancel(store["SO-3"])
    steps = retailflow("history", store["SO-3"], "--db", store["url"], "--json")
    assert steps[-1]["kind"] == "instance_cancelled" and steps[-1]["actor"] == "ana"
    assert steps[0]["actor"] is None  # the start was the app's, named by nobody
    monkeypatch.setattr(output.console, "width", 200)
    assert "(by ana)" in retailflow("history", store["SO-3"], "--db", store["url"])
