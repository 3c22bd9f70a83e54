"""A process diagram drawn as SVG from its BPMN DI, covered elements in green.

Drawn in Python so that a report needs no browser, no bpmn-js and no network to be produced:
the shapes are the BPMN notation's basic forms (rounded tasks, circles, diamonds, arrows) at
the positions Modeler saved, which is enough to see at a glance which paths the tests took.
"""

from __future__ import annotations

from html import escape

from retailflow.testing.coverage import ProcessCoverage
from retailflow.testing.diagram import Bounds, FlowNode, Layout

COVERED = "#1b7a3d"
COVERED_FILL = "#d8f3dc"
MISSED = "#6b7280"
MISSED_FILL = "#ffffff"
_PAD = 24
_CHAR_WIDTH = 6.4
_GATEWAYS = {
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "complexGateway",
}


def draw_process(coverage: ProcessCoverage) -> str:
    """The process's diagram as an ``<svg>`` element, or an empty string without DI."""
    model = coverage.model
    layout = model.layout
    parts: list[str] = []
    boxes: list[Bounds] = []
    pool = next((pid for pid, (_, ref) in layout.pools.items() if ref == model.process_id), None)
    if pool is not None and pool in layout.shapes:
        bounds = layout.shapes[pool]
        boxes.append(bounds)
        parts.append(_pool(bounds, layout.pools[pool][0] or model.name or model.process_id))
    nodes = [node for node in model.nodes.values() if node.id in layout.shapes]
    # Expanded subprocesses first (their content is drawn on top), boundary events last.
    nodes.sort(
        key=lambda node: (
            0 if node.id in layout.expanded else 2 if node.tag == "boundaryEvent" else 1
        )
    )
    for node in nodes:
        boxes.append(layout.shapes[node.id])
        if node.id in layout.labels:
            boxes.append(layout.labels[node.id])
    for flow in model.flows.values():
        points = layout.edges.get(flow.id)
        if not points:
            continue
        covered = flow.id in coverage.taken
        parts.append(_edge(flow.id, points, covered, coverage.taken[flow.id]))
        boxes.extend(Bounds(x, y, 0, 0) for x, y in points)
        label = layout.labels.get(flow.id)
        if flow.name and label is not None:
            parts.append(_text_block(flow.name, label, size=11, colour="#374151"))
            boxes.append(label)
    for node in nodes:
        parts.append(_node(node, layout, node.id in coverage.reached, coverage.passed[node.id]))
    if not boxes:
        return ""
    left = min(box.x for box in boxes) - _PAD
    top = min(box.y for box in boxes) - _PAD
    width = max(box.x + box.width for box in boxes) + _PAD - left
    height = max(box.y + box.height for box in boxes) + _PAD - top
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="diagram" '
        f'viewBox="{left:g} {top:g} {width:g} {height:g}" width="{width:g}" '
        f'height="{height:g}" font-family="Helvetica, Arial, sans-serif">'
        f"{_defs()}{''.join(parts)}</svg>"
    )


def _defs() -> str:
    arrows = "".join(
        f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        f'fill="{colour}"/></marker>'
        for name, colour in (("covered", COVERED), ("missed", MISSED))
    )
    return f"<defs>{arrows}</defs>"


def _pool(bounds: Bounds, name: str) -> str:
    band = 30
    middle_y = bounds.y + bounds.height / 2
    return (
        f'<g class="pool"><rect x="{bounds.x:g}" y="{bounds.y:g}" '
        f'width="{bounds.width:g}" height="{bounds.height:g}" fill="none" stroke="#9ca3af"/>'
        f'<line x1="{bounds.x + band:g}" y1="{bounds.y:g}" x2="{bounds.x + band:g}" '
        f'y2="{bounds.y + bounds.height:g}" stroke="#9ca3af"/>'
        f'<text x="{bounds.x + band / 2:g}" y="{middle_y:g}" font-size="12" '
        f'text-anchor="middle" transform="rotate(-90 {bounds.x + band / 2:g} {middle_y:g})"'
        f">{escape(name)}</text></g>"
    )


def _edge(flow_id: str, points: tuple[tuple[float, float], ...], covered: bool, taken: int) -> str:
    colour, width, name = (COVERED, 2.5, "covered") if covered else (MISSED, 1.5, "missed")
    path = " ".join(f"{x:g},{y:g}" for x, y in points)
    title = f"{flow_id}: taken {taken} time(s)" if covered else f"{flow_id}: not taken"
    return (
        f'<polyline class="flow {name}" points="{path}" fill="none" stroke="{colour}" '
        f'stroke-width="{width}" marker-end="url(#arrow-{name})">'
        f"<title>{escape(title)}</title></polyline>"
    )


def _node(node: FlowNode, layout: Layout, covered: bool, passed: int) -> str:
    bounds = layout.shapes[node.id]
    stroke, fill = (COVERED, COVERED_FILL) if covered else (MISSED, MISSED_FILL)
    title = (
        f"{node.id} ({node.tag}): passed {passed} time(s)"
        if covered
        else f"{node.id} ({node.tag}): not reached"
    )
    if node.tag.endswith("Event"):
        body = _event(node, bounds, stroke, fill)
    elif node.tag in _GATEWAYS:
        body = _gateway(node, bounds, stroke, fill)
    else:
        body = _activity(node, bounds, stroke, fill, node.id in layout.expanded)
    label = ""
    if node.name and (node.tag.endswith("Event") or node.tag in _GATEWAYS):
        box = layout.labels.get(node.id) or Bounds(
            bounds.x - 30, bounds.y + bounds.height + 4, bounds.width + 60, 14
        )
        label = _text_block(node.name, box, size=11, colour="#111827")
    badge = ""
    if covered and passed and not node.tag.endswith("Event") and node.tag not in _GATEWAYS:
        badge = (
            f'<circle cx="{bounds.x + bounds.width:g}" cy="{bounds.y:g}" r="10" '
            f'fill="{COVERED}"/><text x="{bounds.x + bounds.width:g}" '
            f'y="{bounds.y + 4:g}" font-size="11" fill="#fff" text-anchor="middle">'
            f"{passed}</text>"
        )
    state = "covered" if covered else "missed"
    return (
        f'<g class="node {state}" data-id="{escape(node.id)}"><title>{escape(title)}'
        f"</title>{body}{label}{badge}</g>"
    )


def _activity(node: FlowNode, bounds: Bounds, stroke: str, fill: str, expanded: bool) -> str:
    width = 3 if node.tag == "callActivity" else 2 if node.tag != "task" else 1.5
    dash = ' stroke-dasharray="6 3"' if node.triggered_by_event else ""
    rect = (
        f'<rect x="{bounds.x:g}" y="{bounds.y:g}" width="{bounds.width:g}" '
        f'height="{bounds.height:g}" rx="10" fill="{fill if not expanded else "none"}" '
        f'stroke="{stroke}" stroke-width="{width}"{dash}/>'
    )
    kind = _KIND.get(node.tag, "")
    marker = (
        (
            f'<text x="{bounds.x + 6:g}" y="{bounds.y + 13:g}" font-size="9" '
            f'fill="{stroke}">{kind}</text>'
        )
        if kind
        else ""
    )
    if expanded:
        text = (
            f'<text x="{bounds.x + 8:g}" y="{bounds.y + 16:g}" font-size="12">'
            f"{escape(node.name or node.id)}</text>"
        )
        return rect + text
    inner = Bounds(bounds.x + 4, bounds.y + 8, bounds.width - 8, bounds.height - 8)
    return (
        rect
        + marker
        + _text_block(node.name or node.id, inner, size=12, colour="#111827", middle=True)
    )


_KIND = {
    "serviceTask": "service",
    "userTask": "user",
    "scriptTask": "script",
    "businessRuleTask": "rule",
    "sendTask": "send",
    "receiveTask": "receive",
    "manualTask": "manual",
    "callActivity": "call",
}


def _event(node: FlowNode, bounds: Bounds, stroke: str, fill: str) -> str:
    cx, cy = bounds.x + bounds.width / 2, bounds.y + bounds.height / 2
    radius = bounds.width / 2
    dash = "" if node.interrupting else ' stroke-dasharray="4 2"'
    width = {"startEvent": 2, "endEvent": 4}.get(node.tag, 1.5)
    shape = (
        f'<circle cx="{cx:g}" cy="{cy:g}" r="{radius:g}" fill="{fill}" stroke="{stroke}" '
        f'stroke-width="{width}"{dash}/>'
    )
    if node.tag in ("intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"):
        shape += (
            f'<circle cx="{cx:g}" cy="{cy:g}" r="{radius - 3:g}" fill="none" '
            f'stroke="{stroke}" stroke-width="1.5"{dash}/>'
        )
    return shape + _event_marker(node.event, cx, cy, radius, stroke)


def _event_marker(kind: str | None, cx: float, cy: float, radius: float, stroke: str) -> str:
    r = radius * 0.5
    if kind == "timer":
        return (
            f'<circle cx="{cx:g}" cy="{cy:g}" r="{r:g}" fill="none" stroke="{stroke}"/>'
            f'<path d="M{cx:g},{cy:g} L{cx:g},{cy - r * 0.8:g} M{cx:g},{cy:g} '
            f'L{cx + r * 0.6:g},{cy:g}" stroke="{stroke}"/>'
        )
    if kind == "message":
        return (
            f'<rect x="{cx - r:g}" y="{cy - r * 0.7:g}" width="{2 * r:g}" '
            f'height="{1.4 * r:g}" fill="none" stroke="{stroke}"/>'
            f'<polyline points="{cx - r:g},{cy - r * 0.7:g} {cx:g},{cy:g} '
            f'{cx + r:g},{cy - r * 0.7:g}" fill="none" stroke="{stroke}"/>'
        )
    if kind == "error":
        return (
            f'<polyline points="{cx - r:g},{cy + r:g} {cx - r * 0.3:g},{cy - r * 0.6:g} '
            f'{cx + r * 0.3:g},{cy + r * 0.2:g} {cx + r:g},{cy - r:g}" fill="none" '
            f'stroke="{stroke}" stroke-width="1.5"/>'
        )
    if kind == "signal":
        return (
            f'<polygon points="{cx:g},{cy - r:g} {cx + r:g},{cy + r * 0.7:g} '
            f'{cx - r:g},{cy + r * 0.7:g}" fill="none" stroke="{stroke}"/>'
        )
    if kind == "terminate":
        return f'<circle cx="{cx:g}" cy="{cy:g}" r="{r:g}" fill="{stroke}"/>'
    return ""


def _gateway(node: FlowNode, bounds: Bounds, stroke: str, fill: str) -> str:
    cx, cy = bounds.x + bounds.width / 2, bounds.y + bounds.height / 2
    half_w = bounds.width / 2
    diamond = (
        f'<polygon points="{cx:g},{bounds.y:g} {cx + half_w:g},{cy:g} '
        f'{cx:g},{bounds.y + bounds.height:g} {cx - half_w:g},{cy:g}" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="2"/>'
    )
    m = half_w * 0.4
    marker = {
        "exclusiveGateway": f'<path d="M{cx - m:g},{cy - m:g} L{cx + m:g},{cy + m:g} '
        f'M{cx + m:g},{cy - m:g} L{cx - m:g},{cy + m:g}" '
        f'stroke="{stroke}" stroke-width="3"/>',
        "parallelGateway": f'<path d="M{cx:g},{cy - m * 1.2:g} L{cx:g},{cy + m * 1.2:g} '
        f'M{cx - m * 1.2:g},{cy:g} L{cx + m * 1.2:g},{cy:g}" '
        f'stroke="{stroke}" stroke-width="3"/>',
        "inclusiveGateway": f'<circle cx="{cx:g}" cy="{cy:g}" r="{m * 1.1:g}" fill="none" '
        f'stroke="{stroke}" stroke-width="2.5"/>',
        "eventBasedGateway": f'<circle cx="{cx:g}" cy="{cy:g}" r="{m * 1.2:g}" fill="none" '
        f'stroke="{stroke}"/><circle cx="{cx:g}" cy="{cy:g}" '
        f'r="{m:g}" fill="none" stroke="{stroke}"/>',
    }.get(node.tag, "")
    return diamond + marker


def _text_block(text: str, box: Bounds, *, size: int, colour: str, middle: bool = False) -> str:
    """Text wrapped to the box's width, centred horizontally (and vertically if ``middle``)."""
    per_line = max(4, int(box.width / (_CHAR_WIDTH * size / 12)))
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= per_line:
            lines[-1] += " " + word
        else:
            lines.append(word)
    height = size + 2
    first = (
        box.y + box.height / 2 - height * (len(lines) - 1) / 2 + size / 3
        if middle
        else box.y + size
    )
    cx = box.x + box.width / 2
    spans = "".join(
        f'<tspan x="{cx:g}" y="{first + index * height:g}">{escape(line)}</tspan>'
        for index, line in enumerate(lines)
    )
    return f'<text font-size="{size}" fill="{colour}" text-anchor="middle">{spans}</text>'
