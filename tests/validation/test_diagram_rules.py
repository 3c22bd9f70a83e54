"""BPMN DI rules: every element drawn, no shape hiding another."""

from __future__ import annotations

from diagrams import START_TO_END, process
from lxml import etree

from retailflow.validation.diagram_rules import check_diagram

EDGES = {"f1": ("start", "task"), "f2": ("task", "end")}


def diagram(
    shapes: dict[str, tuple[int, int, int, int]],
    edges: tuple[str, ...] = ("f1", "f2"),
    lines: dict[str, tuple[tuple[float, float], ...]] | None = None,
) -> str:
    """Shapes as given; each edge a straight line from its source's centre to its target's
    (a line of ``lines`` instead, where one is given)."""

    def centre(element: str) -> tuple[float, float]:
        x, y, w, h = shapes.get(element, (0, 0, 0, 0))
        return x + w / 2, y + h / 2

    drawn = "".join(
        f'      <bpmndi:BPMNShape id="{element}_di" bpmnElement="{element}">'
        f'<dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}" /></bpmndi:BPMNShape>\n'
        for element, (x, y, w, h) in shapes.items()
    )
    for edge in edges:
        points = (lines or {}).get(edge) or tuple(centre(end) for end in EDGES[edge])
        waypoints = "".join(f'<di:waypoint x="{x}" y="{y}" />' for x, y in points)
        drawn += (
            f'      <bpmndi:BPMNEdge id="{edge}_di" bpmnElement="{edge}">{waypoints}'
            "</bpmndi:BPMNEdge>\n"
        )
    return (
        '  <bpmndi:BPMNDiagram id="d"><bpmndi:BPMNPlane id="plane" bpmnElement="p">\n'
        f"{drawn}  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>\n"
    )


APART = {"start": (100, 100, 36, 36), "task": (200, 78, 100, 80), "end": (350, 100, 36, 36)}


def found(content: bytes) -> list[tuple[str, str | None, str]]:
    root = etree.fromstring(content)
    return [(f.rule, f.element_id, f.message) for f in check_diagram("p.bpmn", root)]


def test_a_fully_drawn_tidy_diagram_has_no_findings() -> None:
    assert found(process(*START_TO_END, extra=diagram(APART))) == []


def test_an_element_without_a_shape_or_edge_is_reported_as_no_bpmndi() -> None:
    shapes = {key: value for key, value in APART.items() if key != "task"}

    assert found(process(*START_TO_END, extra=diagram(shapes, edges=("f1",)))) == [
        ("no-bpmndi", "task", "Element is missing bpmndi"),
        ("no-bpmndi", "f2", "Element is missing bpmndi"),
    ]


def test_a_file_without_any_diagram_reports_every_element() -> None:
    assert {element for _, element, _ in found(process(*START_TO_END))} == {
        "start",
        "f1",
        "task",
        "f2",
        "end",
    }


def test_overlapping_shapes_are_both_reported() -> None:
    shapes = {**APART, "end": (250, 100, 36, 36)}  # drawn on top of the task

    assert found(process(*START_TO_END, extra=diagram(shapes))) == [
        ("no-overlapping-elements", "task", "Element overlaps with other element"),
        ("no-overlapping-elements", "end", "Element overlaps with other element"),
    ]


def test_a_boundary_event_on_its_host_is_not_an_overlap() -> None:
    boundary = (
        '    <bpmn:boundaryEvent id="late" name="Late" attachedToRef="task">'
        '<bpmn:timerEventDefinition id="t" /></bpmn:boundaryEvent>\n'
    )
    shapes = {**APART, "late": (232, 140, 36, 36)}

    assert found(process(*START_TO_END, boundary, extra=diagram(shapes))) == []


def test_a_line_that_misses_its_source_or_target_shape_is_a_detached_edge() -> None:
    # the end event was dragged 120 px right; its flow still ends where it used to be
    shapes = {**APART, "end": (470, 100, 36, 36)}
    lines = {"f2": ((300, 118), (350, 118))}

    assert found(process(*START_TO_END, extra=diagram(shapes, lines=lines))) == [
        (
            "detached-edge",
            "f2",
            "the flow's line does not end on the shape of 'end' (it ends at 350,118)",
        )
    ]


def test_a_line_docked_on_a_round_shape_or_just_beside_a_border_is_attached() -> None:
    lines = {
        "f1": ((136, 118), (200, 118)),  # from the circle's right edge to the task's
        "f2": ((305, 118), (345, 118)),
    }  # a few pixels off both borders

    assert found(process(*START_TO_END, extra=diagram(APART, lines=lines))) == []
