"""The demo: a simulated fortnight of a new-retail business run by the seven shipped processes.

A fresh SQLite file holds the engine's store, a second one the seeded back office (catalogue,
stock per location, customers). Every file in ``processes/`` is deployed, and
``BusinessSimulation`` plays customers, carriers, suppliers and staff on a virtual clock, so
two weeks pass in well under a minute. At the end the analysis flow reviews the fortnight from
the engine's own history, and its published KPI report is printed.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from retailflow.engine import Engine, TimeTravel, VirtualClock
from retailflow.model.kpis import short_duration
from retailflow.retail import Backoffice, retail_handlers, seed_backoffice, shipped_processes
from retailflow.retail.records import KpiReport
from retailflow.retail.simulation import STAFF, BusinessSimulation, SimulationSettings

MONDAY_MORNING = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)


def run_demo(*, settings: SimulationSettings, db: Path, console: Console) -> None:
    """Simulate ``settings.days`` of business into ``db`` and print what the flows did."""
    office_db = db.with_name(f"{db.stem}-backoffice{db.suffix}")
    for path in (db, office_db):
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    clock = VirtualClock(MONDAY_MORNING)
    office = Backoffice(f"sqlite:///{office_db}", clock=clock)
    seed_backoffice(office, seed=settings.seed)
    # The analysis flow's handlers read KPIs from the engine they run in: bound by name here,
    # looked up when the weekly review runs.
    engine = Engine(
        f"sqlite:///{db}",
        clock=clock,
        handlers=retail_handlers(office, kpis=lambda **window: engine.kpis(**window)),
    )
    with engine:
        processes = _process_dir()
        deployment = engine.deploy(processes)
        console.print(
            f"Deployed {len(deployment.created)} processes from {processes}; "
            f"the engine's store is {db}, the back office {office_db}."
        )
        travel = TimeTravel(clock)
        travel.attach(engine)
        simulation = BusinessSimulation(engine, office, travel, settings, STAFF)
        hours = settings.days * 24
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("day {task.fields[day]:>2} of {task.fields[days]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            bar = progress.add_task(
                f"Simulating {settings.days} days", total=hours, day=1, days=settings.days
            )
            simulation.run(
                lambda passed: progress.update(
                    bar,
                    advance=passed,
                    day=min(
                        settings.days, int((clock.now() - MONDAY_MORNING) / timedelta(days=1)) + 1
                    ),
                )
            )
        review = engine.correlate("kpi_review_requested", variables={"window_days": settings.days})
        travel.advance(minutes=1)
        _print_world(simulation.counts, console)
        report_id = engine.instance(review).variables["report_id"]
        _print_report(_report(office, report_id), len(engine.incidents()), console)
    office.close()


def demo_token(db: Path) -> str:
    """An operator token named ``demo`` for the demo's store, so the cockpit opens on it."""
    from retailflow.cockpit.auth import create_token
    from retailflow.model import Role

    with Engine(f"sqlite:///{db}") as engine:
        return create_token(engine.store, "demo", Role.OPERATOR, engine.clock.now())


def _process_dir() -> Path:
    """``./processes`` when it holds the shipped files (a checkout, where an analyst may be
    editing them), else the copy installed with retailflow."""
    local = Path("processes")
    return local if (local / "order_fulfilment.bpmn").exists() else shipped_processes()


def _report(office: Backoffice, report_id: str) -> dict[str, Any]:
    """The report the closing review published (the weekly one may publish at the same
    moment, over a shorter window)."""
    with office.session() as session:
        return dict(session.get(KpiReport, report_id).body)


def _print_world(counts: Counter[str], console: Console) -> None:
    table = Table(title="What the world did")
    table.add_column("event")
    table.add_column("count", justify="right")
    for event, count in sorted(counts.items()):
        table.add_row(event, str(count))
    console.print(table)


def _print_report(report: dict[str, Any], incidents: int, console: Console) -> None:
    window = report["window"]
    table = Table(
        title=f"KPI report {report['report_id']}, published by "
        f"data_analysis_optimisation for {window['since'][:10]} to "
        f"{window['until'][:10]}",
        box=box.SIMPLE_HEAD,
        padding=0,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("process", no_wrap=True)
    for column in ("start", "done", "open", "inc.", "p50", "p90", "late"):
        table.add_column(column, justify="right", min_width=6)
    for item in report["processes"]:
        table.add_row(
            item["process_id"],
            str(item["started"]),
            str(item["completed"]),
            str(item["open"]),
            str(item["with_incidents"]),
            short_duration(item["cycle_time_p50_seconds"]),
            short_duration(item["cycle_time_p90_seconds"]),
            "-" if item["sla_breaches"] is None else str(item["sla_breaches"]),
        )
    console.print(table)
    console.print(
        "start/done/open: instances; inc.: instances with an incident; p50/p90: "
        "cycle time; late: instances over their SLA. Findings against the targets "
        "in processes/kpi_targets.dmn:"
    )
    for item in report["processes"]:
        slowest = item.get("slowest_step") or {}
        step = slowest.get("name") or slowest.get("element_id")
        p90 = slowest.get("duration_p90_seconds") or 0
        where = f"; slowest step: {step} (p90 {short_duration(p90)})" if step and p90 else ""
        verdict = "on target" if item["on_target"] else "; ".join(item["problems"])
        console.print(f"- {item['process_id']}: {verdict}{where}")
    summary = report["summary"]
    console.print(
        f"{summary['on_target']} of {summary['processes']} processes on target; "
        f"improvement tasks opened for: {', '.join(summary['off_target']) or 'none'}; "
        f"incidents open now: {incidents}."
    )
