"""Analytics handlers: the weekly KPI review of every retail process, computed from
retailflow's own history, compared with the business's targets, and published as a
``KpiReport``.

The KPIs come from a ``KpiSource``: a callable with ``Engine.kpis``' signature. The engine is
usually built after its handlers, so pass one that looks the engine up late::

    engine: Engine | None = None
    handlers = retail_handlers(office, kpis=lambda **window: engine.kpis(**window))
    engine = Engine(handlers=handlers, clock=clock)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from retailflow.handlers import HandlerContext, HandlerRegistry
from retailflow.model import ProcessKpis, RetailflowError
from retailflow.model.kpis import KpiWindow, as_seconds
from retailflow.retail.backoffice import Backoffice
from retailflow.retail.records import KpiReport

HOUR = 3600.0

# Element types whose time is spent doing or waiting for work: where a bottleneck can sit.
_WORK = frozenset(
    {
        "task",
        "serviceTask",
        "userTask",
        "manualTask",
        "scriptTask",
        "sendTask",
        "receiveTask",
        "businessRuleTask",
        "callActivity",
    }
)


class KpiSource(Protocol):
    """Where the KPIs come from: ``Engine.kpis`` or anything with its signature."""

    def __call__(
        self,
        *,
        process_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        sla: Mapping[str, timedelta] | None = None,
    ) -> list[ProcessKpis]: ...


class Window(BaseModel):
    """The week (or any span) a review looks at."""

    since: datetime
    until: datetime


class KpiTarget(BaseModel):
    """One row of the ``kpi_targets`` decision: what the business expects of a process."""

    sla_hours: float = Field(gt=0)
    cycle_time_p90_hours: float = Field(gt=0)
    max_incident_rate: float = Field(ge=0)
    max_breach_rate: float = Field(ge=0)
    owner_group: str


class KpiRequest(BaseModel):
    """What ``analytics.compute_kpis`` reads: the window, and each process's target (the
    ``kpi_targets`` decision's outputs, in the order of ``process_ids``)."""

    window: Window
    process_ids: list[str]
    targets: list[KpiTarget]


class CompareRequest(BaseModel):
    """What ``analytics.compare_with_targets`` reads: the KPIs and the targets."""

    kpis: list[dict[str, Any]]
    process_ids: list[str]
    targets: list[KpiTarget]


class ReportRequest(BaseModel):
    """What ``analytics.publish_report`` reads: the window, the KPIs and the verdicts."""

    window: Window
    kpis: list[dict[str, Any]]
    verdicts: list[dict[str, Any]]


def analytics_handlers(office: Backoffice, kpis: KpiSource | None) -> HandlerRegistry:
    """The ``analytics.*`` handlers, reading KPIs from ``kpis`` and publishing to ``office``."""
    handlers = HandlerRegistry()

    def source() -> KpiSource:
        if kpis is None:
            raise RetailflowError(
                "the analytics handlers have no KPI source: build them with "
                "retail_handlers(office, kpis=engine.kpis) (a worker gets one from "
                "retailflow.retail:registry when $RETAILFLOW_DB names the engine's store)"
            )
        return kpis

    @handlers.handler("analytics.find_active_processes")
    def find_active_processes(window_days: int = 7) -> dict[str, Any]:
        """The processes with instances started in the last ``window_days`` days, and that
        window (fixed here, so every later step of the review looks at the same one)."""
        if window_days <= 0:
            raise RetailflowError(
                f"window_days must be a positive number of days, got {window_days}"
            )
        until = office.clock.now()
        since = until - timedelta(days=window_days)
        found = source()(since=since, until=until)
        return {
            "process_ids": [item.process_id for item in found],
            "window": {"since": since.isoformat(), "until": until.isoformat()},
        }

    @handlers.handler("analytics.compute_kpis")
    def compute_kpis(request: KpiRequest) -> dict[str, Any]:
        """Each process's KPIs over the window, SLA breaches judged against its target, with
        its slowest step (highest p90 among tasks and call activities)."""
        window = request.window
        by_process = _targets(request.process_ids, request.targets)
        sla = {pid: timedelta(hours=target.sla_hours) for pid, target in by_process.items()}
        found = {
            item.process_id: item
            for item in source()(since=window.since, until=window.until, sla=sla)
        }
        return {
            "kpis": [
                _kpis_body(found[pid]) if pid in found else _empty(pid, window, sla)
                for pid in request.process_ids
            ]
        }

    @handlers.handler("analytics.compare_with_targets")
    def compare_with_targets(request: CompareRequest) -> dict[str, Any]:
        """A verdict per process (each KPI ``on_target``, ``over_target`` or ``no_data``),
        and a finding for each process off target: what to improve, for whom."""
        by_process = _targets(request.process_ids, request.targets)
        verdicts = [_verdict(item, by_process[item["process_id"]]) for item in request.kpis]
        findings = [
            {
                "process_id": verdict["process_id"],
                "owner_group": verdict["owner_group"],
                "problems": verdict["problems"],
                "slowest_step": verdict["slowest_step"],
            }
            for verdict in verdicts
            if not verdict["on_target"]
        ]
        return {"verdicts": verdicts, "findings": findings}

    @handlers.handler("analytics.publish_report")
    def publish_report(request: ReportRequest, context: HandlerContext) -> dict[str, Any]:
        """Store the week's report as a ``KpiReport`` row (its ``body`` is the whole report:
        see docs/processes.md, data_analysis_optimisation)."""

        def effect(session: Session) -> dict[str, Any]:
            now = office.clock.now()
            report_id = f"KPI-{request.window.until:%Y%m%d-%H%M}-{context.instance_id[:8]}"
            session.add(
                KpiReport(
                    id=report_id,
                    published_at=now,
                    body=report_body(
                        report_id, now, request.window, request.kpis, request.verdicts
                    ),
                )
            )
            return {"report_id": report_id}

        return office.once(context.idempotency_key, effect)

    return handlers


def report_body(
    report_id: str,
    published_at: datetime,
    window: Window,
    kpis: Sequence[Mapping[str, Any]],
    verdicts: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The published report: per process its KPIs, targets, verdicts and slowest step."""
    judged = {verdict["process_id"]: verdict for verdict in verdicts}
    processes = []
    for item in kpis:
        verdict = judged[item["process_id"]]
        processes.append(
            {
                **item,
                "owner_group": verdict["owner_group"],
                "targets": verdict["targets"],
                "verdicts": verdict["checks"],
                "on_target": verdict["on_target"],
                "problems": verdict["problems"],
            }
        )
    return {
        "report_id": report_id,
        "published_at": published_at.isoformat(),
        "window": {"since": window.since.isoformat(), "until": window.until.isoformat()},
        "processes": processes,
        "summary": {
            "processes": len(processes),
            "on_target": sum(1 for p in processes if p["on_target"]),
            "off_target": [p["process_id"] for p in processes if not p["on_target"]],
        },
    }


def slowest_step(item: ProcessKpis) -> dict[str, Any] | None:
    """The task or call activity with the highest p90 duration (then p50, then first drawn),
    or ``None`` when no task completed."""
    timed = [
        step for step in item.steps if step.element_type in _WORK and step.duration_p90 is not None
    ]
    if not timed:
        return None
    slowest = max(timed, key=lambda step: (step.duration_p90, step.duration_p50))
    return {
        "element_id": slowest.element_id,
        "name": slowest.name,
        "duration_p50_seconds": as_seconds(slowest.duration_p50),
        "duration_p90_seconds": as_seconds(slowest.duration_p90),
        "completed": slowest.completed,
    }


def _kpis_body(item: ProcessKpis) -> dict[str, Any]:
    return {**item.as_dict(), "slowest_step": slowest_step(item)}


def _empty(process_id: str, window: Window, sla: Mapping[str, timedelta]) -> dict[str, Any]:
    """A process that was active when the review began but has nothing in the window now
    (e.g. a file redeployed under another id): reported with zeros rather than dropped."""
    target = sla.get(process_id)
    return _kpis_body(
        ProcessKpis(
            process_id=process_id,
            window=KpiWindow(window.since, window.until),
            started=0,
            completed=0,
            cancelled=0,
            open=0,
            with_incidents=0,
            incident_rate=0.0,
            cycle_time_p50=None,
            cycle_time_p90=None,
            sla=target,
            sla_breaches=0 if target is not None else None,
            sla_breach_rate=0.0 if target is not None else None,
            steps=[],
        )
    )


def _targets(process_ids: Sequence[str], targets: Sequence[KpiTarget]) -> dict[str, KpiTarget]:
    """The decision's outputs, in the order of the process ids the review looked up."""
    if len(process_ids) != len(targets):
        raise RetailflowError(
            f"{len(targets)} KPI targets for {len(process_ids)} processes: "
            "look_up_targets must run once per process id"
        )
    return dict(zip(process_ids, targets, strict=True))


def _verdict(item: Mapping[str, Any], target: KpiTarget) -> dict[str, Any]:
    p90 = item["cycle_time_p90_seconds"]
    checks = {
        "cycle_time_p90": _check(None if p90 is None else p90 / HOUR, target.cycle_time_p90_hours),
        "sla_breach_rate": _check(
            item["sla_breach_rate"] if item["started"] else None, target.max_breach_rate
        ),
        "incident_rate": _check(
            item["incident_rate"] if item["started"] else None, target.max_incident_rate
        ),
    }
    problems = []
    if checks["cycle_time_p90"] == "over_target":
        problems.append(
            f"cycle time p90 {p90 / HOUR:.1f} h is over the "
            f"{target.cycle_time_p90_hours:g} h target"
        )
    if checks["sla_breach_rate"] == "over_target":
        problems.append(
            f"{item['sla_breaches']} of {item['started']} instances breached the "
            f"{target.sla_hours:g} h SLA ({item['sla_breach_rate']:.0%}, at most "
            f"{target.max_breach_rate:.0%} allowed)"
        )
    if checks["incident_rate"] == "over_target":
        problems.append(
            f"{item['with_incidents']} of {item['started']} instances had "
            f"incidents ({item['incident_rate']:.0%}, at most "
            f"{target.max_incident_rate:.0%} allowed)"
        )
    return {
        "process_id": item["process_id"],
        "owner_group": target.owner_group,
        "targets": target.model_dump(),
        "checks": checks,
        "on_target": not problems,
        "problems": problems,
        "slowest_step": item.get("slowest_step"),
    }


def _check(value: float | None, limit: float) -> str:
    if value is None:
        return "no_data"
    return "over_target" if value > limit else "on_target"
