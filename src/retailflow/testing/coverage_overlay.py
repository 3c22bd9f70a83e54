"""The coverage report's diagram: the file as drawn, covered elements in green.

Enough to see at a glance which paths the tests took: every flow node of the process is
covered (green, with how often it was passed) or missed (grey); sequence flows likewise.
"""

from __future__ import annotations

from retailflow.diagram.overlay import Mark, Overlay
from retailflow.diagram.svg import draw
from retailflow.testing.coverage import ProcessCoverage

COVERED = "#1b7a3d"
COVERED_FILL = "#d8f3dc"
MISSED = "#6b7280"
MISSED_FILL = "#ffffff"
_UNBADGED = ("Event", "Gateway")


def draw_process(coverage: ProcessCoverage) -> str:
    """The process's diagram as an ``<svg>`` element, or an empty string without DI."""
    model = coverage.model
    return draw(model.layout, coverage_overlay(coverage), label=model.name or model.process_id)


def coverage_overlay(coverage: ProcessCoverage) -> Overlay:
    """Covered and missed marks for every flow node and sequence flow of the process."""
    marks: dict[str, Mark] = {}
    for node in coverage.model.nodes.values():
        passed = coverage.passed[node.id]
        if node.id in coverage.reached:
            badge = str(passed) if passed and not node.tag.endswith(_UNBADGED) else None
            title = f"{node.id} ({node.tag}): passed {passed} time(s)"
            marks[node.id] = Mark("covered", COVERED, COVERED_FILL, badge=badge, title=title)
        else:
            title = f"{node.id} ({node.tag}): not reached"
            marks[node.id] = Mark("missed", MISSED, MISSED_FILL, title=title)
    for flow in coverage.model.flows.values():
        taken = coverage.taken[flow.id]
        if flow.id in coverage.taken:
            title = f"{flow.id}: taken {taken} time(s)"
            marks[flow.id] = Mark("covered", COVERED, COVERED_FILL, title=title, emphasis=True)
        else:
            marks[flow.id] = Mark("missed", MISSED, MISSED_FILL, title=f"{flow.id}: not taken")
    return Overlay(marks)
