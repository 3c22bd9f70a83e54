"""Where a process's time and traffic go, painted on its diagram.

Each step the KPIs counted is filled from pale to deep orange by how many times tokens entered
it (a boundary event: how many times it fired), relative to the busiest step; its badge carries
that count and the line under it its p90 time; the tooltip adds completions, p50 and
conversion. The numbers are ``Engine.kpis``' own, so the picture and the KPI table never
disagree.
"""

from __future__ import annotations

from retailflow.diagram.overlay import Mark, Overlay
from retailflow.model import ProcessKpis
from retailflow.model.kpis import StepKpis, as_seconds, short_duration

_COLD = (255, 247, 230)
_HOT = (234, 88, 12)
_STROKE = "#9a3412"


def heatmap(kpis: ProcessKpis) -> Overlay:
    """Marks for every step of ``kpis``' own process (not of the processes it calls): traffic
    as colour and badge, p90 time as a note."""
    steps = [step for step in kpis.steps if step.process_id == kpis.process_id]
    busiest = max((_traffic(step) for step in steps), default=0)
    marks: dict[str, Mark] = {}
    for step in steps:
        traffic = _traffic(step)
        if not traffic:
            continue
        p50, p90 = as_seconds(step.duration_p50), as_seconds(step.duration_p90)
        title = (
            f"{step.element_id}: entered {step.entered}, completed {step.completed}, "
            f"p50 {short_duration(p50)}, p90 {short_duration(p90)}, "
            f"conversion {step.conversion:.0%}"
        )
        marks[step.element_id] = Mark(
            "heat",
            _STROKE,
            _shade(traffic / busiest),
            badge=str(traffic),
            # A step passed within a second says nothing worth the room on the drawing.
            note=f"p90 {short_duration(p90)}" if p90 is not None and p90 >= 1 else None,
            title=title,
        )
    return Overlay(marks)


def _traffic(step: StepKpis) -> int:
    """Tokens that went through a step: a boundary event is entered whenever its activity
    starts, so what counts there is how often it fired (completed)."""
    return step.completed if step.element_type == "boundaryEvent" else step.entered


def _shade(share: float) -> str:
    red, green, blue = (
        round(cold + (hot - cold) * share) for cold, hot in zip(_COLD, _HOT, strict=True)
    )
    return f"#{red:02x}{green:02x}{blue:02x}"
