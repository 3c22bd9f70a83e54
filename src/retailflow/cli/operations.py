"""Commands that operate on a store: look at instances, jobs, incidents and history; retry and
cancel. Each takes any store URL (or a SQLite file path) and prints a table, or JSON with
``--json``; they call the same ``Engine`` methods an application does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from retailflow.cli.output import JsonOption, cell, console, print_json, print_rows
from retailflow.engine import Engine
from retailflow.model import InstanceStatus, Job, JobState
from retailflow.model.variables import encode
from retailflow.stores import database_url, open_store

DbOption = Annotated[str, typer.Option(
    "--db", envvar="RETAILFLOW_DB",
    help="A SQLite file (retail.db) or a store URL (sqlite:///retail.db, "
         "postgresql+psycopg://user@host/db); default from $RETAILFLOW_DB.")]


def instances(
    db: DbOption,
    status: Annotated[InstanceStatus | None, typer.Option(help="Only instances in this state.")
                      ] = None,
    process: Annotated[str | None, typer.Option(help="Only instances of this process id.")
                       ] = None,
    output_json: JsonOption = False,
) -> None:
    """List the instances in a store, oldest first."""
    with _engine(db) as engine:
        rows = [{"id": i.id, "process": i.definition_id, "business_key": i.business_key,
                 "status": str(i.status), "started_at": i.started_at.isoformat(),
                 "ended_at": i.ended_at.isoformat() if i.ended_at else None}
                for i in engine.instances(status=status, process_id=process)]
    print_rows(rows, output_json, "Instances")


def show(instance: str, db: DbOption, output_json: JsonOption = False) -> None:
    """Show one instance: its state, variables, and everything it waits for."""
    with _engine(db) as engine:
        found = engine.instance(instance)
        now = engine.clock.now()
        details: dict[str, Any] = {
            "id": found.id, "process": found.definition_id, "business_key": found.business_key,
            "status": str(found.status), "version": found.version,
            "started_at": found.started_at.isoformat(),
            "ended_at": found.ended_at.isoformat() if found.ended_at else None,
            # In the stored form (docs/api.md, "Variable types"): a date stays a date to a
            # script reading this, not a string like any other.
            "variables": encode(found.variables),
            "jobs": [_job_row(job, now) for job in engine.jobs(instance=found.id)],
            "user_tasks": [{"id": t.id, "element": t.element_id, "assignee": t.assignee,
                            "candidate_groups": list(t.candidate_groups)}
                           for t in engine.tasks(instance=found.id)],
            "subscriptions": [{"kind": str(s.kind), "name": s.name, "element": s.element_id,
                               "correlation_key": s.correlation_key}
                              for s in engine.subscriptions(instance=found.id)],
            "incidents": [{"id": i.id, "element": i.element_id, "message": i.message}
                          for i in engine.incidents(instance=found.id)],
        }
    if output_json:
        print_json(details)
        return
    console.print(Text.assemble(
        (found.id, "bold"), f" {found.definition_id} business key ", cell(found.business_key),
        f" — {found.status} (version {found.version})"))
    console.print(Text.assemble("variables: ", cell(found.variables)), highlight=False,
                  soft_wrap=True)
    for part in ("jobs", "user_tasks", "subscriptions", "incidents"):
        if details[part]:
            print_rows(details[part], False, part.replace("_", " ").capitalize())


def jobs(
    db: DbOption,
    state: Annotated[JobState | None, typer.Option(help="Only jobs in this state now.")] = None,
    instance: Annotated[str | None, typer.Option(help="Only jobs of this instance.")] = None,
    output_json: JsonOption = False,
) -> None:
    """List jobs: due, scheduled (due later), claimed (by a worker) or failed (incident)."""
    with _engine(db) as engine:
        now = engine.clock.now()
        rows = [_job_row(job, now) for job in engine.jobs(instance=instance, state=state)]
    print_rows(rows, output_json, "Jobs")


def incidents(
    db: DbOption,
    instance: Annotated[str | None, typer.Option(help="Only incidents of this instance.")
                        ] = None,
    output_json: JsonOption = False,
) -> None:
    """List open incidents: jobs out of retries, each with its error."""
    with _engine(db) as engine:
        rows = [{"id": i.id, "instance": i.instance_id, "element": i.element_id,
                 "job": i.job_id, "created_at": i.created_at.isoformat(), "message": i.message}
                for i in engine.incidents(instance=instance)]
    print_rows(rows, output_json, "Incidents")


def retry(
    target: Annotated[str, typer.Argument(help="An incident id, or an instance id (all its "
                                                "incidents).")],
    db: DbOption,
    retries: Annotated[int, typer.Option(min=1, help="New runs each job gets.")] = 1,
    output_json: JsonOption = False,
) -> None:
    """Give the failed jobs of an incident (or of an instance) new runs, due now.

    A worker (or an application's ``Engine.run``) then executes them."""
    with _engine(db) as engine:
        count = engine.retry(target, retries=retries)
    print_rows([{"target": target, "jobs_retried": count}], output_json, "Retried")


def cancel(instance: str, db: DbOption, output_json: JsonOption = False) -> None:
    """End a running instance where it stands; its jobs, tasks and subscriptions go."""
    with _engine(db) as engine:
        cancelled = engine.cancel(instance)
    print_rows([{"id": cancelled.id, "status": str(cancelled.status)}], output_json, "Cancelled")


def history(instance: str, db: DbOption, output_json: JsonOption = False) -> None:
    """Print the history of one instance, in order."""
    with _engine(db) as engine:
        rows = [{"seq": e.seq, "at": e.at.isoformat(), "kind": str(e.kind),
                 "element": e.element_id, "attempt": e.attempt, "job": e.job_id}
                for e in engine.history(instance)]
    print_rows(rows, output_json, f"History of {instance}")


def _job_row(job: Job, now: datetime) -> dict[str, Any]:
    return {"id": job.id, "instance": job.instance_id, "element": job.element_id,
            "kind": str(job.kind), "topic": job.topic, "state": str(job.state_at(now)),
            "due_at": job.due_at.isoformat(), "attempt": job.attempt,
            "retries_left": job.retries_left, "lock_owner": job.lock_owner,
            "last_error": job.last_error}


@contextmanager
def _engine(db: str) -> Iterator[Engine]:
    """An engine on the store that never migrates it: looking must not change a database
    (``retailflow db upgrade`` does that)."""
    with Engine(store=open_store(store_url(db), migrate=False)) as engine:
        yield engine


def store_url(db: str) -> str:
    """A plain path means a SQLite file, which must exist: reading a store never creates one."""
    db = database_url(db)
    if db.startswith("sqlite:///") and not Path(db.removeprefix("sqlite:///")).exists():
        raise typer.BadParameter(f"no SQLite file at {db.removeprefix('sqlite:///')}",
                                 param_hint="--db")
    return db
