"""A BPMN file's diagram drawn as SVG from its DI, as the analyst laid it out in Modeler.

Drawn in Python so that a report or a cockpit page needs no browser-side modeler, no bpmn-js and
no network: pools, lanes, flow nodes with their event and task markers, sequence and message
flows, annotations and data at the positions Modeler saved. What an element means right now
(covered, hot, waiting, failed) comes from an ``Overlay``. Every drawn element is a ``<g>`` with
``data-element-id`` (and the overlay's ``data-state``), so a page script or a browser test
finds it by its BPMN id.
"""

from __future__ import annotations

import math
from html import escape

from retailflow.diagram.model import Bounds, Element, Layout
from retailflow.diagram.overlay import Mark, Overlay

_PAD = 24
_CHAR_WIDTH = 6.4
_LINE = "#374151"
_TEXT = "#111827"
_GATEWAYS = frozenset(
    {
        "exclusiveGateway",
        "parallelGateway",
        "inclusiveGateway",
        "eventBasedGateway",
        "complexGateway",
    }
)
_THROWING = frozenset({"intermediateThrowEvent", "endEvent"})
_CONTAINERS = frozenset({"participant", "lane", "group"})
_DATA = frozenset({"dataObjectReference", "dataObject", "dataStoreReference", "dataInput"})
_MARKED_EDGES = frozenset({"sequenceFlow"})
Points = tuple[tuple[float, float], ...]


def draw(layout: Layout, overlay: Overlay | None = None, *, label: str | None = None) -> str:
    """The file's diagram as an ``<svg>`` element, or an empty string when it has no DI.

    ``label`` names the drawing for screen readers (``aria-label``)."""
    overlay = overlay or Overlay()
    shapes = [element for element in layout.elements.values() if element.id in layout.shapes]
    # Containers under everything, expanded subprocesses under their content, boundary events
    # over the activity they sit on; flows over pools but under the nodes they join.
    shapes.sort(key=lambda element: _depth(element, layout))
    edges = [element for element in layout.elements.values() if element.id in layout.edges]
    back = [_shape(element, layout, overlay) for element in shapes if _depth(element, layout) < 2]
    front = [_shape(element, layout, overlay) for element in shapes if _depth(element, layout) >= 2]
    lines = [_edge(element, layout, overlay) for element in edges]
    boxes = _extent(layout)
    if boxes is None:
        return ""
    left, top, width, height = boxes
    colours = sorted(
        {_LINE, overlay.default.stroke} | {mark.stroke for mark in overlay.marks.values()}
    )
    name = f' role="img" aria-label="{escape(label)}"' if label else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="diagram"{name} '
        f'viewBox="{left:g} {top:g} {width:g} {height:g}" width="{width:g}" '
        f'height="{height:g}" font-family="Helvetica, Arial, sans-serif">'
        f"{_defs(colours)}{''.join(back)}{''.join(lines)}{''.join(front)}</svg>"
    )


def _depth(element: Element, layout: Layout) -> int:
    if element.tag in ("participant", "lane"):
        return 0
    if element.id in layout.expanded or element.tag == "group":
        return 1
    if element.tag == "boundaryEvent":
        return 3
    return 2


def _extent(layout: Layout) -> tuple[float, float, float, float] | None:
    boxes = [*layout.shapes.values(), *layout.labels.values()]
    boxes.extend(Bounds(x, y, 0, 0) for points in layout.edges.values() for x, y in points)
    if not boxes:
        return None
    left = min(box.x for box in boxes) - _PAD
    top = min(box.y for box in boxes) - _PAD
    width = max(box.x + box.width for box in boxes) + _PAD - left
    height = max(box.y + box.height for box in boxes) + _PAD - top
    return left, top, width, height


def _marker_id(colour: str) -> str:
    return "arrow-" + "".join(c for c in colour if c.isalnum())


def _defs(colours: list[str]) -> str:
    arrows = "".join(
        f'<marker id="{_marker_id(colour)}" viewBox="0 0 10 10" refX="10" refY="5" '
        f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        for colour in colours
    )
    return (
        f"<defs>{arrows}"
        '<marker id="message-start" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="8" '
        'markerHeight="8"><circle cx="5" cy="5" r="4" fill="#fff" stroke="#374151"/></marker>'
        '<marker id="message-end" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" '
        'markerHeight="9" orient="auto"><path d="M1,1 L10,5 L1,9 z" fill="#fff" '
        'stroke="#374151"/></marker>'
        '<marker id="open-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10" fill="none" '
        'stroke="#374151"/></marker></defs>'
    )


# -- edges -------------------------------------------------------------------------------------


def _edge(element: Element, layout: Layout, overlay: Overlay) -> str:
    points = layout.edges[element.id]
    path = " ".join(f"{x:g},{y:g}" for x, y in points)
    marked = element.tag in _MARKED_EDGES
    mark = overlay.mark(element.id) if marked else Overlay().default
    if element.tag == "sequenceFlow":
        width = 2.5 if mark.emphasis else 1.5
        style = (
            f'stroke="{mark.stroke}" stroke-width="{width}" '
            f'marker-end="url(#{_marker_id(mark.stroke)})"'
        )
    elif element.tag == "messageFlow":
        style = (
            f'stroke="{_LINE}" stroke-width="1.5" stroke-dasharray="8 5" '
            'marker-start="url(#message-start)" marker-end="url(#message-end)"'
        )
    elif element.tag in ("dataInputAssociation", "dataOutputAssociation"):
        style = f'stroke="{_LINE}" stroke-dasharray="2 3" marker-end="url(#open-arrow)"'
    else:
        style = f'stroke="{_LINE}" stroke-dasharray="2 3"'
    text = ""
    box = layout.labels.get(element.id)
    if element.name and box is not None:
        text = _text_block(element.name, box, size=11, colour="#374151")
    title = mark.title or _describe(element)
    return (
        f'<g class="edge {element.tag} mark-{mark.state}" data-element-id="{escape(element.id)}" '
        f'data-state="{mark.state}"><title>{escape(title)}</title>'
        f'<polyline points="{path}" fill="none" {style}/>{text}</g>'
    )


# -- shapes ------------------------------------------------------------------------------------


def _shape(element: Element, layout: Layout, overlay: Overlay) -> str:
    bounds = layout.shapes[element.id]
    flow_node = element.tag not in _CONTAINERS | _DATA | {"textAnnotation"}
    mark = overlay.mark(element.id) if flow_node else Overlay().default
    if element.tag == "participant":
        body = _band(bounds, element.name or "", 30)
    elif element.tag == "lane":
        body = _band(bounds, element.name or "", 20)
    elif element.tag == "group":
        body = (
            f'<rect x="{bounds.x:g}" y="{bounds.y:g}" width="{bounds.width:g}" '
            f'height="{bounds.height:g}" rx="10" fill="none" stroke="{_LINE}" '
            f'stroke-dasharray="10 4 2 4"/>'
        )
    elif element.tag == "textAnnotation":
        body = _annotation(element, bounds)
    elif element.tag == "dataStoreReference":
        body = _data_store(bounds)
    elif element.tag in _DATA:
        body = _data_object(bounds)
    elif element.tag.endswith("Event"):
        body = _event(element, bounds, mark)
    elif element.tag in _GATEWAYS:
        body = _gateway(element, bounds, mark)
    elif element.tag in ("task", "subProcess", "transaction", "adHocSubProcess") or (
        element.tag.endswith("Task") or element.tag == "callActivity"
    ):
        body = _activity(element, bounds, mark, element.id in layout.expanded)
    else:
        body = (
            f'<rect x="{bounds.x:g}" y="{bounds.y:g}" width="{bounds.width:g}" '
            f'height="{bounds.height:g}" fill="none" stroke="{_LINE}"/>'
        )
    label = ""
    outside = element.tag.endswith("Event") or element.tag in _GATEWAYS | _DATA
    if element.name and (outside or element.tag == "group"):
        box = layout.labels.get(element.id) or Bounds(
            bounds.x - 30, bounds.y + bounds.height + 4, bounds.width + 60, 14
        )
        label = _text_block(element.name, box, size=11, colour=_TEXT)
    title = mark.title or _describe(element)
    return (
        f'<g class="shape {element.tag} mark-{mark.state}" '
        f'data-element-id="{escape(element.id)}" data-state="{mark.state}">'
        f"<title>{escape(title)}</title>{body}{label}{_badge(bounds, mark)}</g>"
    )


def _describe(element: Element) -> str:
    return f"{element.id} ({element.tag})" + (f": {element.name}" if element.name else "")


def _badge(bounds: Bounds, mark: Mark) -> str:
    parts = []
    if mark.badge:
        radius = max(10, 3.5 * len(mark.badge) + 4)
        x, y = bounds.x + bounds.width, bounds.y
        parts.append(
            f'<g class="badge"><rect x="{x - radius:g}" y="{y - 10:g}" width="{2 * radius:g}" '
            f'height="20" rx="10" fill="{mark.badge_fill or mark.stroke}"/>'
            f'<text x="{x:g}" y="{y + 4:g}" font-size="11" fill="#fff" '
            f'text-anchor="middle">{escape(mark.badge)}</text></g>'
        )
    if mark.note:
        parts.append(
            f'<text class="note" x="{bounds.x + bounds.width:g}" '
            f'y="{bounds.y + bounds.height + 12:g}" font-size="10" fill="{mark.stroke}" '
            f'text-anchor="end">{escape(mark.note)}</text>'
        )
    return "".join(parts)


def _band(bounds: Bounds, name: str, band: float) -> str:
    """A pool or lane: its outline and its name written upwards in the band on its left."""
    middle_y = bounds.y + bounds.height / 2
    x = bounds.x + band / 2
    return (
        f'<rect x="{bounds.x:g}" y="{bounds.y:g}" width="{bounds.width:g}" '
        f'height="{bounds.height:g}" fill="none" stroke="#9ca3af"/>'
        f'<line x1="{bounds.x + band:g}" y1="{bounds.y:g}" x2="{bounds.x + band:g}" '
        f'y2="{bounds.y + bounds.height:g}" stroke="#9ca3af"/>'
        f'<text x="{x:g}" y="{middle_y + 4:g}" font-size="12" fill="{_TEXT}" '
        f'text-anchor="middle" transform="rotate(-90 {x:g} {middle_y:g})">{escape(name)}</text>'
    )


def _annotation(element: Element, bounds: Bounds) -> str:
    x, y, h = bounds.x, bounds.y, bounds.height
    bracket = (
        f'<path d="M{x + 10:g},{y:g} L{x:g},{y:g} L{x:g},{y + h:g} L{x + 10:g},{y + h:g}" '
        f'fill="none" stroke="{_LINE}"/>'
    )
    inner = Bounds(x + 4, y, bounds.width - 6, h)
    text = _text_block(element.text or "", inner, size=11, colour=_TEXT, middle=True)
    return bracket + text


def _data_object(bounds: Bounds) -> str:
    x, y, w, h = bounds.x, bounds.y, bounds.width, bounds.height
    fold = min(w, h) / 3
    return (
        f'<path d="M{x:g},{y:g} L{x + w - fold:g},{y:g} L{x + w:g},{y + fold:g} '
        f"L{x + w:g},{y + h:g} L{x:g},{y + h:g} z M{x + w - fold:g},{y:g} "
        f'L{x + w - fold:g},{y + fold:g} L{x + w:g},{y + fold:g}" fill="#fff" stroke="{_LINE}"/>'
    )


def _data_store(bounds: Bounds) -> str:
    x, y, w, h = bounds.x, bounds.y, bounds.width, bounds.height
    ry = h / 8
    return (
        f'<path d="M{x:g},{y + ry:g} L{x:g},{y + h - ry:g} A{w / 2:g},{ry:g} 0 0 0 '
        f'{x + w:g},{y + h - ry:g} L{x + w:g},{y + ry:g}" fill="#fff" stroke="{_LINE}"/>'
        f'<ellipse cx="{x + w / 2:g}" cy="{y + ry:g}" rx="{w / 2:g}" ry="{ry:g}" fill="#fff" '
        f'stroke="{_LINE}"/>'
    )


# -- activities ----------------------------------------------------------------------------------


def _activity(element: Element, bounds: Bounds, mark: Mark, expanded: bool) -> str:
    width = {"callActivity": 4, "task": 1.5}.get(element.tag, 2)
    dash = ' stroke-dasharray="6 3"' if element.triggered_by_event else ""
    rect = (
        f'<rect x="{bounds.x:g}" y="{bounds.y:g}" width="{bounds.width:g}" '
        f'height="{bounds.height:g}" rx="10" fill="{mark.fill if not expanded else "none"}" '
        f'stroke="{mark.stroke}" stroke-width="{width}"{dash}/>'
    )
    if element.tag == "transaction":
        rect += (
            f'<rect x="{bounds.x + 3:g}" y="{bounds.y + 3:g}" width="{bounds.width - 6:g}" '
            f'height="{bounds.height - 6:g}" rx="8" fill="none" stroke="{mark.stroke}"/>'
        )
    icon = _TASK_ICONS.get(element.tag)
    glyph = icon(bounds.x + 6, bounds.y + 6, mark.stroke) if icon else ""
    markers = _bottom_markers(element, bounds, mark.stroke, expanded)
    if expanded:
        text = (
            f'<text x="{bounds.x + 8:g}" y="{bounds.y + 16:g}" font-size="12" fill="{_TEXT}">'
            f"{escape(element.name or '')}</text>"
        )
        return rect + glyph + markers + text
    inner = Bounds(bounds.x + 4, bounds.y + 8, bounds.width - 8, bounds.height - 16)
    name = _text_block(element.name or "", inner, size=12, colour=_TEXT, middle=True)
    return rect + glyph + markers + name


def _bottom_markers(element: Element, bounds: Bounds, stroke: str, expanded: bool) -> str:
    """Loop, multi-instance, collapsed-subprocess, compensation and ad-hoc markers, centred."""
    glyphs: list[str] = []
    if element.loop == "standard":
        glyphs.append("loop")
    elif element.loop in ("parallel", "sequential"):
        glyphs.append(element.loop)
    if not expanded and (
        element.tag in ("subProcess", "transaction", "adHocSubProcess")
        or element.tag == "callActivity"
    ):
        glyphs.append("collapsed")
    if element.tag == "adHocSubProcess":
        glyphs.append("adhoc")
    if element.compensation:
        glyphs.append("compensation")
    size, gap = 12, 3
    x = bounds.x + bounds.width / 2 - (len(glyphs) * (size + gap) - gap) / 2
    y = bounds.y + bounds.height - size - 4
    out = []
    for glyph in glyphs:
        out.append(_bottom_marker(glyph, x, y, size, stroke))
        x += size + gap
    return "".join(out)


def _bottom_marker(glyph: str, x: float, y: float, s: float, stroke: str) -> str:
    cls = f'class="marker {glyph}"'
    if glyph == "parallel":
        return (
            f'<path {cls} d="M{x + 2:g},{y:g} v{s:g} M{x + s / 2:g},{y:g} v{s:g} '
            f'M{x + s - 2:g},{y:g} v{s:g}" stroke="{stroke}" stroke-width="2"/>'
        )
    if glyph == "sequential":
        return (
            f'<path {cls} d="M{x:g},{y + 2:g} h{s:g} M{x:g},{y + s / 2:g} h{s:g} '
            f'M{x:g},{y + s - 2:g} h{s:g}" stroke="{stroke}" stroke-width="2"/>'
        )
    if glyph == "loop":
        cx, cy, r = x + s / 2, y + s / 2, s / 2 - 1
        return (
            f'<path {cls} d="M{cx - r * 0.7:g},{cy + r * 0.7:g} A{r:g},{r:g} 0 1 1 '
            f"{cx + r * 0.7:g},{cy + r * 0.7:g} M{cx + r * 0.7:g},{cy + r * 0.7:g} "
            f'l0,-4 M{cx + r * 0.7:g},{cy + r * 0.7:g} l-4,0" fill="none" stroke="{stroke}" '
            f'stroke-width="1.5"/>'
        )
    if glyph == "collapsed":
        return (
            f'<g {cls}><rect x="{x:g}" y="{y:g}" width="{s:g}" height="{s:g}" fill="none" '
            f'stroke="{stroke}"/><path d="M{x + s / 2:g},{y + 2:g} v{s - 4:g} '
            f'M{x + 2:g},{y + s / 2:g} h{s - 4:g}" stroke="{stroke}"/></g>'
        )
    if glyph == "adhoc":
        return (
            f'<path {cls} d="M{x:g},{y + s / 2 + 1:g} q{s / 4:g},-{s / 2:g} {s / 2:g},0 '
            f't{s / 2:g},0" fill="none" stroke="{stroke}" stroke-width="1.5"/>'
        )
    return (
        f'<path {cls} d="M{x:g},{y + s / 2:g} l{s / 2:g},-{s / 3:g} v{2 * s / 3:g} z '
        f'M{x + s / 2:g},{y + s / 2:g} l{s / 2:g},-{s / 3:g} v{2 * s / 3:g} z" fill="none" '
        f'stroke="{stroke}"/>'
    )


def _gear(x: float, y: float, stroke: str) -> str:
    cx, cy = x + 7, y + 7
    spokes = " ".join(
        f"M{cx + 4 * math.cos(a):.1f},{cy + 4 * math.sin(a):.1f} "
        f"L{cx + 7 * math.cos(a):.1f},{cy + 7 * math.sin(a):.1f}"
        for a in (i * math.pi / 4 for i in range(8))
    )
    return (
        f'<g class="marker service"><path d="{spokes}" stroke="{stroke}" stroke-width="2"/>'
        f'<circle cx="{cx:g}" cy="{cy:g}" r="4.5" fill="#fff" stroke="{stroke}"/>'
        f'<circle cx="{cx:g}" cy="{cy:g}" r="1.5" fill="none" stroke="{stroke}"/></g>'
    )


def _person(x: float, y: float, stroke: str) -> str:
    return (
        f'<g class="marker user"><circle cx="{x + 7:g}" cy="{y + 4:g}" r="3.5" fill="none" '
        f'stroke="{stroke}"/><path d="M{x:g},{y + 15:g} q0,-7 7,-7 q7,0 7,7 z" fill="none" '
        f'stroke="{stroke}"/></g>'
    )


def _script(x: float, y: float, stroke: str) -> str:
    return (
        f'<g class="marker script"><path d="M{x + 3:g},{y:g} h10 q-4,4 0,8 q4,4 0,7 h-10 '
        f'q4,-3 0,-7 q-4,-4 0,-8 z" fill="none" stroke="{stroke}"/><path d="M{x + 4:g},'
        f'{y + 4:g} h6 M{x + 4:g},{y + 7.5:g} h6 M{x + 4:g},{y + 11:g} h6" stroke="{stroke}"/></g>'
    )


def _envelope(x: float, y: float, stroke: str, filled: bool, cls: str) -> str:
    fill, inner = (stroke, "#fff") if filled else ("none", stroke)
    return (
        f'<g class="marker {cls}"><rect x="{x:g}" y="{y + 2:g}" width="15" height="10" '
        f'fill="{fill}" stroke="{stroke}"/><polyline points="{x:g},{y + 2:g} {x + 7.5:g},'
        f'{y + 8:g} {x + 15:g},{y + 2:g}" fill="none" stroke="{inner}"/></g>'
    )


def _rule_table(x: float, y: float, stroke: str) -> str:
    return (
        f'<g class="marker business-rule"><rect x="{x:g}" y="{y:g}" width="15" height="12" '
        f'fill="none" stroke="{stroke}"/><rect x="{x:g}" y="{y:g}" width="15" height="3" '
        f'fill="{stroke}"/><path d="M{x:g},{y + 7.5:g} h15 M{x + 5:g},{y + 3:g} v9" '
        f'stroke="{stroke}"/></g>'
    )


def _hand(x: float, y: float, stroke: str) -> str:
    return (
        f'<g class="marker manual"><path d="M{x:g},{y + 6:g} h9 M{x + 3:g},{y + 9:g} h8 '
        f'M{x + 3:g},{y + 12:g} h7 M{x:g},{y + 6:g} v6 q0,3 3,3 h6" fill="none" '
        f'stroke="{stroke}"/><path d="M{x:g},{y + 6:g} l4,-5 h3" fill="none" '
        f'stroke="{stroke}"/></g>'
    )


_TASK_ICONS = {
    "serviceTask": _gear,
    "userTask": _person,
    "scriptTask": _script,
    "sendTask": lambda x, y, s: _envelope(x, y, s, True, "send"),
    "receiveTask": lambda x, y, s: _envelope(x, y, s, False, "receive"),
    "businessRuleTask": _rule_table,
    "manualTask": _hand,
}


# -- events and gateways -------------------------------------------------------------------------


def _event(element: Element, bounds: Bounds, mark: Mark) -> str:
    cx, cy = bounds.x + bounds.width / 2, bounds.y + bounds.height / 2
    radius = bounds.width / 2
    dash = "" if element.interrupting else ' stroke-dasharray="4 2"'
    width = {"startEvent": 2, "endEvent": 4}.get(element.tag, 1.5)
    shape = (
        f'<circle cx="{cx:g}" cy="{cy:g}" r="{radius:g}" fill="{mark.fill}" '
        f'stroke="{mark.stroke}" stroke-width="{width}"{dash}/>'
    )
    if element.tag in ("intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"):
        shape += (
            f'<circle cx="{cx:g}" cy="{cy:g}" r="{radius - 3:g}" fill="none" '
            f'stroke="{mark.stroke}" stroke-width="1.5"{dash}/>'
        )
    throwing = element.tag in _THROWING
    return shape + _event_marker(element.event, cx, cy, radius, mark.stroke, throwing)


def _event_marker(
    kind: str | None, cx: float, cy: float, radius: float, stroke: str, throwing: bool
) -> str:
    """The event definition's symbol: filled when the event throws, hollow when it catches."""
    r = radius * 0.5
    fill = stroke if throwing else "none"
    cls = f'class="marker {kind}"'
    if kind == "timer":
        ticks = " ".join(
            f"M{cx + r * 0.8 * math.cos(a):.1f},{cy + r * 0.8 * math.sin(a):.1f} "
            f"L{cx + r * math.cos(a):.1f},{cy + r * math.sin(a):.1f}"
            for a in (i * math.pi / 6 for i in range(12))
        )
        return (
            f'<g {cls}><circle cx="{cx:g}" cy="{cy:g}" r="{r * 1.15:g}" fill="#fff" '
            f'stroke="{stroke}"/><path d="{ticks} M{cx:g},{cy:g} L{cx:g},{cy - r * 0.7:g} '
            f'M{cx:g},{cy:g} L{cx + r * 0.5:g},{cy:g}" stroke="{stroke}"/></g>'
        )
    if kind == "message":
        inner = "#fff" if throwing else stroke
        return (
            f'<g {cls}><rect x="{cx - r:g}" y="{cy - r * 0.7:g}" width="{2 * r:g}" '
            f'height="{1.4 * r:g}" fill="{fill}" stroke="{stroke}"/>'
            f'<polyline points="{cx - r:g},{cy - r * 0.7:g} {cx:g},{cy:g} '
            f'{cx + r:g},{cy - r * 0.7:g}" fill="none" stroke="{inner}"/></g>'
        )
    if kind == "error":
        return (
            f'<polygon {cls} points="{cx - r:g},{cy + r:g} {cx - r * 0.4:g},{cy - r * 0.7:g} '
            f"{cx + r * 0.2:g},{cy + r * 0.1:g} {cx + r:g},{cy - r:g} {cx + r * 0.4:g},"
            f'{cy + r * 0.7:g} {cx - r * 0.2:g},{cy - r * 0.1:g}" fill="{fill}" '
            f'stroke="{stroke}"/>'
        )
    if kind == "signal":
        return (
            f'<polygon {cls} points="{cx:g},{cy - r:g} {cx + r:g},{cy + r * 0.7:g} '
            f'{cx - r:g},{cy + r * 0.7:g}" fill="{fill}" stroke="{stroke}"/>'
        )
    if kind == "escalation":
        return (
            f'<polygon {cls} points="{cx:g},{cy - r:g} {cx + r * 0.7:g},{cy + r:g} '
            f'{cx:g},{cy + r * 0.2:g} {cx - r * 0.7:g},{cy + r:g}" fill="{fill}" '
            f'stroke="{stroke}"/>'
        )
    if kind == "compensate":
        return (
            f'<path {cls} d="M{cx - r:g},{cy:g} l{r:g},-{r * 0.7:g} v{r * 1.4:g} z '
            f'M{cx:g},{cy:g} l{r:g},-{r * 0.7:g} v{r * 1.4:g} z" fill="{fill}" '
            f'stroke="{stroke}"/>'
        )
    if kind == "link":
        return (
            f'<polygon {cls} points="{cx - r:g},{cy - r * 0.35:g} {cx + r * 0.2:g},'
            f"{cy - r * 0.35:g} {cx + r * 0.2:g},{cy - r * 0.8:g} {cx + r:g},{cy:g} "
            f"{cx + r * 0.2:g},{cy + r * 0.8:g} {cx + r * 0.2:g},{cy + r * 0.35:g} "
            f'{cx - r:g},{cy + r * 0.35:g}" fill="{fill}" stroke="{stroke}"/>'
        )
    if kind == "terminate":
        return f'<circle {cls} cx="{cx:g}" cy="{cy:g}" r="{r * 1.1:g}" fill="{stroke}"/>'
    if kind == "cancel":
        return (
            f'<path {cls} d="M{cx - r * 0.7:g},{cy - r * 0.7:g} L{cx + r * 0.7:g},'
            f"{cy + r * 0.7:g} M{cx + r * 0.7:g},{cy - r * 0.7:g} L{cx - r * 0.7:g},"
            f'{cy + r * 0.7:g}" stroke="{stroke}" stroke-width="3"/>'
        )
    if kind == "conditional":
        return (
            f'<g {cls}><rect x="{cx - r * 0.7:g}" y="{cy - r * 0.8:g}" width="{r * 1.4:g}" '
            f'height="{r * 1.6:g}" fill="none" stroke="{stroke}"/><path d="'
            + " ".join(
                f"M{cx - r * 0.5:g},{cy + dy * r:g} h{r:g}" for dy in (-0.45, -0.15, 0.15, 0.45)
            )
            + f'" stroke="{stroke}"/></g>'
        )
    if kind == "multiple":
        corners = " ".join(
            f"{cx + r * math.cos(a):.1f},{cy + r * math.sin(a):.1f}"
            for a in (-math.pi / 2 + i * 2 * math.pi / 5 for i in range(5))
        )
        return f'<polygon {cls} points="{corners}" fill="{fill}" stroke="{stroke}"/>'
    return ""


def _gateway(element: Element, bounds: Bounds, mark: Mark) -> str:
    cx, cy = bounds.x + bounds.width / 2, bounds.y + bounds.height / 2
    half_w = bounds.width / 2
    stroke = mark.stroke
    diamond = (
        f'<polygon points="{cx:g},{bounds.y:g} {cx + half_w:g},{cy:g} '
        f'{cx:g},{bounds.y + bounds.height:g} {cx - half_w:g},{cy:g}" fill="{mark.fill}" '
        f'stroke="{stroke}" stroke-width="2"/>'
    )
    m = half_w * 0.4
    cross = (
        f"M{cx:g},{cy - m * 1.2:g} L{cx:g},{cy + m * 1.2:g} "
        f"M{cx - m * 1.2:g},{cy:g} L{cx + m * 1.2:g},{cy:g}"
    )
    diagonal = (
        f"M{cx - m * 0.85:g},{cy - m * 0.85:g} L{cx + m * 0.85:g},{cy + m * 0.85:g} "
        f"M{cx + m * 0.85:g},{cy - m * 0.85:g} L{cx - m * 0.85:g},{cy + m * 0.85:g}"
    )
    pentagon = " ".join(
        f"{cx + m * 0.8 * math.cos(a):.1f},{cy + m * 0.8 * math.sin(a):.1f}"
        for a in (-math.pi / 2 + i * 2 * math.pi / 5 for i in range(5))
    )
    marker = {
        "exclusiveGateway": f'<path d="M{cx - m:g},{cy - m:g} L{cx + m:g},{cy + m:g} '
        f'M{cx + m:g},{cy - m:g} L{cx - m:g},{cy + m:g}" stroke="{stroke}" stroke-width="3"/>',
        "parallelGateway": f'<path d="{cross}" stroke="{stroke}" stroke-width="3"/>',
        "inclusiveGateway": f'<circle cx="{cx:g}" cy="{cy:g}" r="{m * 1.1:g}" fill="none" '
        f'stroke="{stroke}" stroke-width="2.5"/>',
        "eventBasedGateway": f'<circle cx="{cx:g}" cy="{cy:g}" r="{m * 1.3:g}" fill="none" '
        f'stroke="{stroke}"/><circle cx="{cx:g}" cy="{cy:g}" r="{m * 1.1:g}" fill="none" '
        f'stroke="{stroke}"/><polygon points="{pentagon}" fill="none" stroke="{stroke}"/>',
        "complexGateway": f'<path d="{cross} {diagonal}" stroke="{stroke}" stroke-width="2.5"/>',
    }.get(element.tag, "")
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
    if not lines:
        return ""
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
