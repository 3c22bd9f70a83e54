"""What a drawing says about each element beyond its shape: colours, a count, a note, a tooltip.

The renderer knows BPMN notation and nothing about coverage, KPIs or instances; an ``Overlay``
carries what one of those wants shown, by element id, so the coverage report, the cockpit's
heatmap and its instance view share one drawing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Mark:
    """How one flow node or sequence flow is drawn.

    ``state`` becomes the CSS class ``mark-<state>`` and the ``data-state`` attribute (what a
    browser test or a stylesheet looks for); ``badge`` is a short text in a disc on the shape's
    top-right corner, ``note`` a small line under it, ``title`` the tooltip; ``emphasis`` draws
    a flow thicker (taken, covered)."""

    state: str
    stroke: str
    fill: str
    badge: str | None = None
    badge_fill: str | None = None
    note: str | None = None
    title: str | None = None
    emphasis: bool = False


PLAIN = Mark("plain", "#374151", "#ffffff")
"""An element the overlay says nothing about."""


@dataclass(frozen=True, slots=True)
class Overlay:
    """Marks by element id; elements without one get ``default``."""

    marks: Mapping[str, Mark] = field(default_factory=dict)
    default: Mark = PLAIN

    def mark(self, element_id: str) -> Mark:
        """The mark of an element."""
        return self.marks.get(element_id, self.default)
