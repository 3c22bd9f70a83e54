"""``retailflow export``: the history of a store as an event log for process-mining tools."""

from __future__ import annotations

import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from retailflow.cli.operations import DbOption, store_url
from retailflow.cli.output import console
from retailflow.event_log import LogFormat, export_event_log
from retailflow.stores import open_store


def export(
    db: DbOption,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--format",
            help="xes: IEEE 1849-2016 XES (pm4py, ProM, Celonis, Disco); csv: "
            "case_id, activity, lifecycle, timestamp, resource; ocel: OCEL 2.0 "
            "JSON with instances and business keys as objects.",
        ),
    ] = "xes",
    process: Annotated[
        str | None, typer.Option("--process", help="Only instances of this process id.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only events at or after this ISO 8601 date or time, e.g. 2026-12-01 "
            "or 2026-12-01T08:00+01:00 (UTC unless it says).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="File to write; standard output when omitted."),
    ] = None,
) -> None:
    """Write the engine's history as an event log: one case per instance, one event per
    element entered (lifecycle start) or completed (complete), named as drawn. Streams from
    the database to the file, so any size fits."""
    start = _moment(since) if since is not None else None
    with closing(open_store(store_url(db), migrate=False)) as store:
        if output is None:
            count = export_event_log(
                store, log_format, sys.stdout.buffer, process_id=process, since=start
            )
            sys.stdout.buffer.flush()
        else:
            with output.open("wb") as stream:
                count = export_event_log(store, log_format, stream, process_id=process, since=start)
    if output is not None:
        console.print(f"wrote {count} events to {output}")


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is no ISO 8601 date or time; write it as "
            "2026-12-01 or 2026-12-01T08:00:00+01:00",
            param_hint="--since",
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
