"""Commands that operate on a store: look at instances, jobs, incidents and history; retry and
cancel. Each takes any store URL (or a SQLite file path) and prints a table, or JSON with
``--json``; they call the same ``Engine`` methods an application does."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from retailflow.cli.output import JsonOption, cell, console, print_json, print_rows
from retailflow.engine import Engine
from retailflow.model import HistoryEvent, Incident, InstanceStatus, Job, JobKind, JobState
from retailflow.model.variables import encode
from retailflow.stores import database_url, open_store

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="RETAILFLOW_DB",
        help="A SQLite file (retail.db) or a store URL (sqlite:///retail.db, "
        "postgresql+psycopg://user@host/db); default from $RETAILFLOW_DB.",
    ),
]


def instances(
    db: DbOption,
    status: Annotated[
        InstanceStatus | None, typer.Option(help="Only instances in this state.")
    ] = None,
    process: Annotated[str | None, typer.Option(help="Only instances of this process id.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many instances (a page).")] = 50,
    after: Annotated[
        str | None,
        typer.Option(
            help="Start after this instance id: the last one of the previous page.",
            show_default=False,
        ),
    ] = None,
    output_json: JsonOption = False,
) -> None:
    """List the instances in a store, oldest first, a page at a time."""
    with _engine(db) as engine:
        page = engine.instances(status=status, process_id=process, limit=limit, after=after)
    if output_json:
        print_json(
            [
                {
                    "id": i.id,
                    "process": i.definition_id,
                    "business_key": i.business_key,
                    "status": str(i.status),
                    "started_at": i.started_at.isoformat(),
                    "ended_at": i.ended_at.isoformat() if i.ended_at else None,
                }
                for i in page
            ]
        )
        return
    # For people at 80 columns: the id whole (to copy), the process without its version,
    # the start to the minute; `show` and --json have the rest.
    print_rows(
        [
            {
                "id": i.id,
                "process": i.process_id,
                "key": i.business_key,
                "status": str(i.status),
                "started": _minute(i.started_at),
            }
            for i in page
        ],
        False,
        "Instances",
        whole=("id", "status"),
    )
    if len(page) == limit:
        console.print(f"More may follow: --after {page[-1].id}", highlight=False)


def show(instance: str, db: DbOption, output_json: JsonOption = False) -> None:
    """Show one instance: its state, variables, and everything it waits for."""
    with _engine(db) as engine:
        found = engine.instance(instance)
        now = engine.clock.now()
        found_jobs = engine.jobs(instance=found.id)
        found_incidents = engine.incidents(instance=found.id)
        details: dict[str, Any] = {
            "id": found.id,
            "process": found.definition_id,
            "business_key": found.business_key,
            "status": str(found.status),
            "version": found.version,
            "started_at": found.started_at.isoformat(),
            "ended_at": found.ended_at.isoformat() if found.ended_at else None,
            # In the stored form (docs/api.md, "Variable types"): a date stays a date to a
            # script reading this, not a string like any other.
            "variables": encode(found.variables),
            "jobs": [_job_row(job, now) for job in found_jobs],
            "user_tasks": [
                {
                    "id": t.id,
                    "element": t.element_id,
                    "assignee": t.assignee,
                    "candidate_groups": list(t.candidate_groups),
                }
                for t in engine.tasks(instance=found.id)
            ],
            "subscriptions": [
                {
                    "kind": str(s.kind),
                    "name": s.name,
                    "element": s.element_id,
                    "correlation_key": s.correlation_key,
                }
                for s in engine.subscriptions(instance=found.id)
            ],
            "incidents": [
                {"id": i.id, "element": i.element_id, "message": i.message} for i in found_incidents
            ],
        }
    if output_json:
        print_json(details)
        return
    console.print(
        Text.assemble(
            (found.id, "bold"),
            f" {found.definition_id} business key ",
            cell(found.business_key),
            f" — {found.status} (version {found.version})",
        )
    )
    console.print(
        Text.assemble("variables: ", cell(found.variables)), highlight=False, soft_wrap=True
    )
    if found_jobs:
        _print_jobs(found_jobs, now, "Jobs")
    if details["user_tasks"]:
        print_rows(details["user_tasks"], False, "User tasks", cut=("id",))
    if details["subscriptions"]:
        print_rows(details["subscriptions"], False, "Subscriptions", whole=("kind",))
    if found_incidents:
        _print_incidents(found_incidents)


def jobs(
    db: DbOption,
    state: Annotated[JobState | None, typer.Option(help="Only jobs in this state now.")] = None,
    instance: Annotated[str | None, typer.Option(help="Only jobs of this instance.")] = None,
    output_json: JsonOption = False,
) -> None:
    """List jobs: due, scheduled (due later), claimed (by a worker) or failed (incident)."""
    with _engine(db) as engine:
        now = engine.clock.now()
        found = engine.jobs(instance=instance, state=state)
    if output_json:
        print_json([_job_row(job, now) for job in found])
    else:
        _print_jobs(found, now, "Jobs")


def incidents(
    db: DbOption,
    instance: Annotated[str | None, typer.Option(help="Only incidents of this instance.")] = None,
    output_json: JsonOption = False,
) -> None:
    """List open incidents: jobs out of retries, each with its error."""
    with _engine(db) as engine:
        found = engine.incidents(instance=instance)
    if not output_json:
        _print_incidents(found)
        return
    print_json(
        [
            {
                "id": i.id,
                "instance": i.instance_id,
                "element": i.element_id,
                "job": i.job_id,
                "created_at": i.created_at.isoformat(),
                "message": i.message,
            }
            for i in found
        ]
    )


def retry(
    target: Annotated[
        str, typer.Argument(help="An incident id, or an instance id (all its incidents).")
    ],
    db: DbOption,
    retries: Annotated[int, typer.Option(min=1, help="New runs each job gets.")] = 1,
    output_json: JsonOption = False,
) -> None:
    """Give the failed jobs of an incident (or of an instance) new runs, due now.

    A worker (or an application's ``Engine.run``) then executes them."""
    with _engine(db) as engine:
        count = engine.retry(target, retries=retries)
    print_rows(
        [{"target": target, "jobs_retried": count}], output_json, "Retried", whole=("target",)
    )


def cancel(instance: str, db: DbOption, output_json: JsonOption = False) -> None:
    """End a running instance where it stands; its jobs, tasks and subscriptions go."""
    with _engine(db) as engine:
        cancelled = engine.cancel(instance)
    print_rows(
        [{"id": cancelled.id, "status": str(cancelled.status)}],
        output_json,
        "Cancelled",
        whole=("id", "status"),
    )


def history(instance: str, db: DbOption, output_json: JsonOption = False) -> None:
    """Print the history of one instance, in order: with --json every field of each step,
    the variables it changed and the error of a failed job included."""
    with _engine(db) as engine:
        events = engine.history(instance)
    if output_json:
        print_json(
            [
                {
                    "seq": e.seq,
                    "at": e.at.isoformat(),
                    "kind": str(e.kind),
                    "element": e.element_id,
                    "element_type": e.element_type,
                    "process": e.process_id,
                    "attempt": e.attempt,
                    "job": e.job_id,
                    "actor": e.actor,
                    "variables": encode(e.variables),
                }
                for e in events
            ]
        )
        return
    print_rows(
        [
            {
                "seq": e.seq,
                "at": e.at.strftime("%Y-%m-%d %H:%M:%S"),
                "kind": str(e.kind),
                "element": e.element_id,
                "detail": _detail(e),
            }
            for e in events
        ],
        False,
        f"History of {instance}",
        whole=("seq", "at", "kind"),
    )


def _detail(event: HistoryEvent) -> str:
    """A history row's details in a few words: the attempt and error of a failure, else the
    names of the variables the step changed; then who took the step, if a person did."""
    if "error" in event.variables:
        detail = f"attempt {event.attempt}: {event.variables['error']}"
    else:
        detail = ", ".join(sorted(event.variables))
    return f"{detail} (by {event.actor})".lstrip() if event.actor else detail


def _print_jobs(jobs: Iterable[Job], now: datetime, title: str) -> None:
    """Jobs for people at 80 columns: the ids cut short, what the job does after its element
    (a service job's topic, else its kind), when it is due to the minute, and the gist of its
    error; the attempt, the lock owner and every id whole are in --json."""
    print_rows(
        [
            {
                "id": job.id,
                "instance": job.instance_id,
                "element": f"{job.element_id} ({_work(job)})",
                "state": str(job.state_at(now)),
                "due": _minute(job.due_at),
                "retries": job.retries_left,
                "error": _gist(job.last_error),
            }
            for job in jobs
        ],
        False,
        title,
        whole=("state", "due", "retries"),
        cut=("id", "instance"),
    )


def _work(job: Job) -> str:
    return job.topic if job.kind is JobKind.SERVICE and job.topic else str(job.kind)


def _print_incidents(incidents: Iterable[Incident]) -> None:
    """Incidents for people at 80 columns, like jobs: ids cut short, the gist of the error;
    the job's id and every id whole are in --json."""
    print_rows(
        [
            {
                "id": i.id,
                "instance": i.instance_id,
                "element": i.element_id,
                "created": _minute(i.created_at),
                "error": _gist(i.message),
            }
            for i in incidents
        ],
        False,
        "Incidents",
        whole=("created",),
        cut=("id", "instance"),
    )


def _gist(error: str | None) -> str | None:
    """An error's first line, in at most 60 characters: the rest (a traceback) is in --json."""
    if not error:
        return error
    return textwrap.shorten(error.strip().splitlines()[0], 60, placeholder=" …")


def _minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _job_row(job: Job, now: datetime) -> dict[str, Any]:
    return {
        "id": job.id,
        "instance": job.instance_id,
        "element": job.element_id,
        "kind": str(job.kind),
        "topic": job.topic,
        "state": str(job.state_at(now)),
        "due_at": job.due_at.isoformat(),
        "attempt": job.attempt,
        "retries_left": job.retries_left,
        "lock_owner": job.lock_owner,
        "last_error": job.last_error,
    }


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
        path = db.removeprefix("sqlite:///")
        raise typer.BadParameter(
            f"no SQLite file at {path} (`retailflow db upgrade --db {path}` creates one)",
            param_hint="--db",
        )
    return db
