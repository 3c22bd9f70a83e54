"""Rules about the drawing itself (BPMN DI): a file that Modeler cannot show, or shows as a pile.

retailflow runs files without their diagram, but analysts reopen them: an element without a
shape is invisible in Modeler and gets lost at the next save, and overlapping shapes hide
elements from the people reviewing the change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from retailflow.bpmn.namespaces import BPMNDI, DC, DI, bpmn_tag
from retailflow.model import Finding
from retailflow.validation.flow_graph import FLOW_NODES, SCOPES
from retailflow.validation.rules import RULES

_VISUAL = frozenset(
    bpmn_tag(name)
    for name in (
        *FLOW_NODES,
        "sequenceFlow",
        "dataObjectReference",
        "dataStoreReference",
        "participant",
        "lane",
        "messageFlow",
        "textAnnotation",
        "association",
        "group",
    )
)
"""What Modeler draws; a ``bpmn:dataObject`` has no shape of its own (its references do)."""
_SHAPE = f"{{{BPMNDI}}}BPMNShape"
_EDGE = f"{{{BPMNDI}}}BPMNEdge"
_BOUNDS = f"{{{DC}}}Bounds"
_SCOPE_TAGS = frozenset(bpmn_tag(name) for name in SCOPES)
_PROCESS = bpmn_tag("process")
_COLLABORATION = bpmn_tag("collaboration")
_PARTICIPANT = bpmn_tag("participant")
_DATA_STORE = bpmn_tag("dataStoreReference")
_WAYPOINT = f"{{{DI}}}waypoint"
_CONNECTIONS = frozenset(bpmn_tag(name) for name in ("sequenceFlow", "messageFlow"))
_DOCKING_SLACK = 10.0
"""How far outside its shape's box a line may start or end: Modeler docks a line on the
border, and on the curve of a round shape, which lies inside the box."""


@dataclass(frozen=True, slots=True)
class _Box:
    left: float
    top: float
    right: float
    bottom: float

    def collides(self, other: _Box) -> bool:
        # Touching counts, as in bpmnlint.
        return (
            self.right >= other.left
            and other.right >= self.left
            and self.bottom >= other.top
            and other.bottom >= self.top
        )

    def contains(self, other: _Box) -> bool:
        return (
            other.left >= self.left
            and other.top >= self.top
            and other.right <= self.right
            and other.bottom <= self.bottom
        )


def check_diagram(file: str, root: etree._Element) -> list[Finding]:
    """``no-bpmndi``, ``no-overlapping-elements`` and ``detached-edge`` for one BPMN file."""
    drawn = {element.get("bpmnElement") for element in root.iter(_SHAPE, _EDGE)}
    findings = [
        RULES["no-bpmndi"].at(
            element,
            file,
            "Element is missing bpmndi",
            "open the file in Modeler and place the element, or redraw it",
        )
        for element in root.iter(*_VISUAL)
        if element.get("id") and element.get("id") not in drawn
    ]
    findings.extend(_overlaps(file, root))
    findings.extend(_detached_edges(file, root))
    return findings


def _detached_edges(file: str, root: etree._Element) -> Iterator[Finding]:
    """Flows whose drawn line does not start on the source's shape or end on the target's:
    Modeler shows a line running into empty space (shapes moved without their flows)."""
    boxes, _expanded = _shapes(root)
    flows = {element.get("id"): element for element in root.iter(*_CONNECTIONS)}
    for edge in root.iter(_EDGE):
        flow = flows.get(edge.get("bpmnElement"))
        read = [_point(waypoint) for waypoint in edge.iter(_WAYPOINT)]
        points = [point for point in read if point is not None]
        if flow is None or len(points) < 2 or len(points) < len(read):
            continue
        ends = (
            ("start", flow.get("sourceRef"), points[0]),
            ("end", flow.get("targetRef"), points[-1]),
        )
        for end, element_id, point in ends:
            box = boxes.get(element_id or "")
            if box is not None and not _docks(point, box):
                yield RULES["detached-edge"].at(
                    flow,
                    file,
                    f"the flow's line does not {end} on the shape of "
                    f"'{element_id}' (it {end}s at {point[0]:g},{point[1]:g})",
                    "move the line's end onto the shape in Modeler, or reconnect the flow",
                )


def _point(waypoint: etree._Element) -> tuple[float, float] | None:
    try:
        return float(waypoint.get("x", "")), float(waypoint.get("y", ""))
    except ValueError:
        return None


def _docks(point: tuple[float, float], box: _Box) -> bool:
    x, y = point
    return (
        box.left - _DOCKING_SLACK <= x <= box.right + _DOCKING_SLACK
        and box.top - _DOCKING_SLACK <= y <= box.bottom + _DOCKING_SLACK
    )


def _overlaps(file: str, root: etree._Element) -> Iterator[Finding]:
    boxes, expanded = _shapes(root)
    overlapping: list[etree._Element] = []
    outside: list[etree._Element] = []
    process_parent: dict[str, _Box] = {}
    for collaboration in root.iterchildren(_COLLABORATION):
        participants = list(collaboration.iterchildren(_PARTICIPANT))
        overlapping.extend(_colliding(participants, boxes))
        for participant in participants:
            box = boxes.get(participant.get("id", ""))
            if participant.get("processRef") and box is not None:
                process_parent[participant.get("processRef", "")] = box
    for process in root.iterchildren(_PROCESS):
        _scope_overlaps(
            process,
            process_parent.get(process.get("id", "")),
            boxes,
            expanded,
            overlapping,
            outside,
        )
    for element in overlapping:
        yield RULES["no-overlapping-elements"].at(
            element,
            file,
            "Element overlaps with other element",
            "move the shapes apart in Modeler so every element can be seen",
        )
    for element in outside:
        yield RULES["no-overlapping-elements"].at(
            element,
            file,
            "Element is outside of parent boundary",
            "move the shape inside its pool or sub-process, or enlarge the parent",
        )


def _scope_overlaps(
    scope: etree._Element,
    parent: _Box | None,
    boxes: dict[str, _Box],
    expanded: set[str],
    overlapping: list[etree._Element],
    outside: list[etree._Element],
) -> None:
    children = [child for child in scope.iterchildren(etree.Element) if child.get("id") in boxes]
    overlapping.extend(_colliding(children, boxes))
    if parent is not None:
        outside.extend(
            child
            for child in children
            if child.tag != _DATA_STORE and not parent.contains(boxes[child.get("id", "")])
        )
    for child in children:
        if child.tag in _SCOPE_TAGS:
            box = boxes[child.get("id", "")] if child.get("id") in expanded else None
            _scope_overlaps(child, box, boxes, expanded, overlapping, outside)


def _colliding(elements: list[etree._Element], boxes: dict[str, _Box]) -> list[etree._Element]:
    """The elements whose shapes collide with another's, in document order; a sweep from
    left to right compares each shape only with those that start before it ends."""
    shaped = sorted(
        (
            (boxes[element.get("id", "")], element)
            for element in elements
            if element.get("id") in boxes
        ),
        key=lambda pair: pair[0].left,
    )
    hit: set[etree._Element] = set()
    for index, (box, element) in enumerate(shaped):
        for other_box, other in shaped[index + 1 :]:
            if other_box.left > box.right:
                break
            if not box.collides(other_box) or _attached(element, other):
                continue
            hit.update((element, other))
    return [element for element in elements if element in hit]


def _attached(first: etree._Element, second: etree._Element) -> bool:
    """A boundary event sits on its host's border by design."""
    return (
        first.get("attachedToRef") is not None and first.get("attachedToRef") == second.get("id")
    ) or (
        second.get("attachedToRef") is not None and second.get("attachedToRef") == first.get("id")
    )


def _shapes(root: etree._Element) -> tuple[dict[str, _Box], set[str]]:
    """Each drawn element's box, and the ids of sub-processes drawn expanded."""
    boxes: dict[str, _Box] = {}
    expanded: set[str] = set()
    for shape in root.iter(_SHAPE):
        bounds = shape.find(_BOUNDS)
        element_id = shape.get("bpmnElement")
        if bounds is None or not element_id:
            continue
        try:
            x, y = float(bounds.get("x", "")), float(bounds.get("y", ""))
            width, height = float(bounds.get("width", "")), float(bounds.get("height", ""))
        except ValueError:
            continue
        if any(value != value for value in (x, y, width, height)):  # NaN never collides
            continue
        boxes.setdefault(element_id, _Box(x, y, x + width, y + height))
        if shape.get("isExpanded", "false").strip() == "true":
            expanded.add(element_id)
    return boxes, expanded
