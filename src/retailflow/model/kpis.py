"""Key performance indicators of processes, as computed from retailflow's own history.

Plain values: the engine computes them (``Engine.kpis``), a handler publishes them, a CLI or a
dashboard prints them. Durations are ``timedelta``; ``as_dict()`` gives the JSON-ready form
(durations in seconds) that a process variable or a report body can carry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class KpiWindow:
    """The instances counted: those started at or after ``since`` (from the beginning when
    ``None``) and at or before ``until``; their state is judged as it stood at ``until``."""

    since: datetime | None
    until: datetime

    def as_dict(self) -> dict[str, Any]:
        """ISO 8601 times, ``None`` for an open start."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class StepKpis:
    """One element of a process, over the instances of the window.

    ``entered`` counts the times a token reached the element (a wait state, or an element
    passed straight through in one step), ``completed`` the times it left it. ``duration_p50``
    and ``duration_p90`` are nearest-rank percentiles of entered-to-completed times (zero for
    an element passed straight through), ``None`` when it never completed. ``conversion`` is the
    share of the process's instances that completed the step at least once (a loop or a
    multi-instance activity counts its instance once, so it never exceeds 1).
    ``process_id`` is the BPMN process the element belongs to (a called process's own id for
    its elements).
    """

    element_id: str
    name: str | None
    element_type: str | None
    process_id: str
    entered: int
    completed: int
    duration_p50: timedelta | None
    duration_p90: timedelta | None
    conversion: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: durations in seconds."""
        return {
            "element_id": self.element_id,
            "name": self.name,
            "element_type": self.element_type,
            "process_id": self.process_id,
            "entered": self.entered,
            "completed": self.completed,
            "duration_p50_seconds": as_seconds(self.duration_p50),
            "duration_p90_seconds": as_seconds(self.duration_p90),
            "conversion": self.conversion,
        }


@dataclass(frozen=True, slots=True)
class ProcessKpis:
    """How one process performed over a window.

    ``started`` = ``completed`` + ``cancelled`` + ``open`` (state at the window's end).
    ``with_incidents`` counts instances that had at least one incident opened by then;
    ``incident_rate`` = ``with_incidents / started``. ``cycle_time_p50``/``p90`` are
    nearest-rank percentiles of start-to-end times of completed instances (``None`` when none
    completed). With an ``sla`` target, ``sla_breaches`` counts instances completed later than
    it or still open past it at the window's end, and ``sla_breach_rate`` =
    ``sla_breaches / started``; without one both are ``None``. Rates are 0.0 when nothing
    started. ``steps`` come in the order the history first met them.
    """

    process_id: str
    window: KpiWindow
    started: int
    completed: int
    cancelled: int
    open: int
    with_incidents: int
    incident_rate: float
    cycle_time_p50: timedelta | None
    cycle_time_p90: timedelta | None
    sla: timedelta | None = None
    sla_breaches: int | None = None
    sla_breach_rate: float | None = None
    steps: list[StepKpis] = field(default_factory=list)

    def step(self, element_id: str) -> StepKpis:
        """The step of that element id; ``KeyError`` naming the known ones if none."""
        for step in self.steps:
            if step.element_id == element_id:
                return step
        known = ", ".join(step.element_id for step in self.steps) or "none"
        raise KeyError(f"no step '{element_id}' in the KPIs of {self.process_id} (steps: {known})")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: times ISO 8601, durations in seconds, steps as a list of dicts."""
        return {
            "process_id": self.process_id,
            "window": self.window.as_dict(),
            "started": self.started,
            "completed": self.completed,
            "cancelled": self.cancelled,
            "open": self.open,
            "with_incidents": self.with_incidents,
            "incident_rate": self.incident_rate,
            "cycle_time_p50_seconds": as_seconds(self.cycle_time_p50),
            "cycle_time_p90_seconds": as_seconds(self.cycle_time_p90),
            "sla_seconds": as_seconds(self.sla),
            "sla_breaches": self.sla_breaches,
            "sla_breach_rate": self.sla_breach_rate,
            "steps": [step.as_dict() for step in self.steps],
        }


def as_seconds(value: timedelta | None) -> float | None:
    """A duration as JSON carries it: seconds, ``None`` kept."""
    return None if value is None else value.total_seconds()


def short_duration(seconds: float | None) -> str:
    """A duration as a person reads it on a report or a diagram: ``42s``, ``25m``, ``3.5h``,
    ``2.1d``; ``-`` for none."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
