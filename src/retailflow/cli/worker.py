"""``retailflow worker``: one worker process of many on a shared store."""

from __future__ import annotations

import logging
import os
import signal
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from retailflow.cli.operations import store_url
from retailflow.engine import Worker, WorkerSettings
from retailflow.handlers import RegistryImportError, import_registry
from retailflow.model.printable import printable

# The ids a log line may carry (``extra=``), printed as key=value after the message.
_FIELDS = ("worker_id", "instance_id", "element_id", "job_id")


class KeyValueFormatter(logging.Formatter):
    """A plain log line, then the ids of the worker, instance, element and job it is about:
    greppable, and each line stands on its own. A message is one line whatever it carries
    (a newline in an error is escaped, so it cannot forge a line of its own); a traceback
    follows indented, so no line of it reads as a log line."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = printable(super().formatMessage(record))
        fields = " ".join(
            f"{name}={printable(str(getattr(record, name)))}"
            for name in _FIELDS
            if getattr(record, name, None) is not None
        )
        return f"{line} {fields}" if fields else line

    def formatException(self, ei: Any) -> str:
        return "\n".join(
            f"    {printable(line)}" for line in super().formatException(ei).splitlines()
        )

    def formatStack(self, stack_info: str) -> str:
        return "\n".join(f"    {printable(line)}" for line in stack_info.splitlines())


def worker(
    db: Annotated[
        str,
        typer.Option(
            "--db",
            envvar="RETAILFLOW_DB",
            help="Store URL shared by the workers "
            "(postgresql+psycopg://user@host/db), or a SQLite file for "
            "one worker; default from $RETAILFLOW_DB.",
        ),
    ],
    handlers: Annotated[
        str,
        typer.Option(
            "--handlers",
            help="Where the handlers are: module:attribute, a HandlerRegistry or "
            "a function returning one (the current folder is importable).",
        ),
    ],
    concurrency: Annotated[int, typer.Option(min=1, help="Threads running jobs.")] = 1,
    claim_batch: Annotated[int, typer.Option(min=1, help="Jobs one claim takes.")] = 3,
    lease: Annotated[
        float,
        typer.Option(
            min=1, help="Seconds a claim lasts; must exceed claim-batch times the slowest handler."
        ),
    ] = 300,
    poll_interval: Annotated[
        float, typer.Option(min=0.01, help="Longest pause, in seconds, between claims when idle.")
    ] = 1.0,
    worker_id: Annotated[
        str | None, typer.Option(help="Lock owner name (default: random).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    migrate: Annotated[
        bool,
        typer.Option(
            help="Create or migrate the schema on start; --no-migrate refuses a database not at "
            "this version (run `retailflow db upgrade` first)."
        ),
    ] = True,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve Prometheus /metrics on this port (store counts and this worker's "
            "handler durations); no token is asked, so it binds --metrics-host only.",
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Address the metrics port listens on.")
    ] = "127.0.0.1",
) -> None:
    """Run due jobs from a shared store until SIGTERM or Ctrl-C.

    The job in hand finishes and the claimed ones are given back; a second signal exits at
    once."""
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=log_level.upper(), handlers=[handler], force=True)
    # SpiffWorkflow logs every task state change, and Alembic every schema check, at INFO:
    # internals, not worker lifecycle or job outcomes.
    for noisy in ("spiff", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    settings = WorkerSettings(
        concurrency=concurrency,
        claim_batch=claim_batch,
        lease=timedelta(seconds=lease),
        poll_interval=poll_interval,
    )
    try:
        registry = import_registry(handlers, [Path.cwd()])
    except RegistryImportError as error:
        raise typer.BadParameter(str(error), param_hint="--handlers") from error
    running = Worker(
        store_url(db), registry, settings=settings, worker_id=worker_id, migrate=migrate
    )

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if running.stopping:
            os._exit(128 + signum)
        running.stop()

    if metrics_port is not None:
        from retailflow.cockpit.metrics import serve_metrics
        from retailflow.engine import SystemClock
        from retailflow.stores import open_store

        serve_metrics(
            open_store(store_url(db), migrate=False),
            SystemClock().now,
            port=metrics_port,
            host=metrics_host,
        )
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    running.run()
