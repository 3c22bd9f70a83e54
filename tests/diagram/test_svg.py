"""The diagram renderer draws every shape and edge a Modeler file's DI holds, as valid SVG."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from lxml import etree

from retailflow.bpmn.namespaces import BPMNDI
from retailflow.diagram import Mark, Overlay, draw
from retailflow.diagram.model import Bounds, Element, Layout, file_model
from retailflow.model import Resource

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [*(ROOT / "processes").glob("*.bpmn"), *(ROOT / "tests" / "conformance").glob("c*/*.bpmn")]
)
SVG = "{http://www.w3.org/2000/svg}"


def layout_of(path: Path) -> Layout:
    content = path.read_bytes()
    resource = Resource(path.name, content, hashlib.sha256(content).hexdigest())
    return file_model(resource).layout


def drawn_ids(svg: str) -> dict[str, etree._Element]:
    root = etree.fromstring(svg.encode())
    assert root.tag == f"{SVG}svg"
    return {g.get("data-element-id"): g for g in root.iter(f"{SVG}g") if g.get("data-element-id")}


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_di_shape_and_edge_is_drawn_as_well_formed_svg(path: Path) -> None:
    di = etree.parse(str(path))
    plane = next(di.iter(f"{{{BPMNDI}}}BPMNPlane"))
    expected = {
        item.get("bpmnElement")
        for item in plane.iter(f"{{{BPMNDI}}}BPMNShape", f"{{{BPMNDI}}}BPMNEdge")
    }
    drawn = drawn_ids(draw(layout_of(path)))
    assert expected - drawn.keys() == set()


def test_shipped_order_process_shows_pools_lanes_message_flows_and_task_markers() -> None:
    layout = layout_of(ROOT / "processes" / "order_fulfilment.bpmn")
    drawn = drawn_ids(draw(layout))
    tags = {element.tag for element in layout.elements.values()}
    classes = " ".join(g.get("class", "") for g in drawn.values())
    assert "shape serviceTask" in classes
    service = next(e for e in layout.elements.values() if e.tag == "serviceTask")
    assert drawn[service.id].find(f".//{SVG}g[@class='marker service']") is not None
    if "userTask" in tags:
        user = next(e for e in layout.elements.values() if e.tag == "userTask")
        assert drawn[user.id].find(f".//{SVG}g[@class='marker user']") is not None


def test_conformance_files_draw_event_markers_catching_hollow_and_throwing_filled() -> None:
    markers: dict[tuple[str, bool], int] = {}
    for path in FILES:
        layout = layout_of(path)
        drawn = drawn_ids(draw(layout))
        for element in layout.elements.values():
            if element.event is None or element.id not in layout.shapes:
                continue
            symbol = next(
                (
                    node
                    for node in drawn[element.id].iter()
                    if f"marker {element.event}" in (node.get("class") or "")
                ),
                None,
            )
            assert symbol is not None, f"{path.name}: {element.id} has no {element.event} marker"
            throwing = element.tag in ("endEvent", "intermediateThrowEvent")
            markers[(element.event, throwing)] = markers.get((element.event, throwing), 0) + 1
    assert {"message", "timer", "error", "signal"} <= {kind for kind, _ in markers}


def test_overlay_marks_set_state_badge_and_colour_of_the_element() -> None:
    layout = layout_of(ROOT / "processes" / "order_fulfilment.bpmn")
    task = next(e for e in layout.elements.values() if e.tag == "serviceTask")
    overlay = Overlay({task.id: Mark("incident", "#b91c1c", "#fee2e2", badge="!", title="boom")})
    group = drawn_ids(draw(layout, overlay))[task.id]
    assert group.get("data-state") == "incident"
    assert group.findtext(f"{SVG}title") == "boom"
    assert group.find(f".//{SVG}rect[@stroke='#b91c1c']") is not None
    assert "!" in "".join(group.find(f".//{SVG}g[@class='badge']").itertext())


def test_a_file_without_di_draws_nothing() -> None:
    assert draw(Layout()) == ""


def layout_with(*elements: Element) -> Layout:
    shapes = {element.id: Bounds(100 + 60 * n, 100, 36, 36) for n, element in enumerate(elements)}
    return Layout(shapes=shapes, elements={element.id: element for element in elements})


def test_throwing_event_markers_are_filled_catching_ones_hollow_non_interrupting_dashed() -> None:
    drawn = drawn_ids(
        draw(
            layout_with(
                Element("sent", "endEvent", None, event="message"),
                Element("received", "startEvent", None, event="message"),
                Element("reminder", "boundaryEvent", None, event="timer", interrupting=False),
            )
        )
    )
    sent = drawn["sent"].find(f".//{SVG}g[@class='marker message']/{SVG}rect")
    received = drawn["received"].find(f".//{SVG}g[@class='marker message']/{SVG}rect")
    assert sent.get("fill") == sent.get("stroke") and received.get("fill") == "none"
    outline = drawn["reminder"].find(f"{SVG}circle")
    assert (
        outline.get("stroke-dasharray")
        and drawn["sent"].find(f"{SVG}circle").get("stroke-dasharray") is None
    )


def test_activity_markers_show_loops_multi_instance_and_call_activities() -> None:
    drawn = drawn_ids(
        draw(
            layout_with(
                Element("each", "userTask", None, loop="parallel"),
                Element("one_by_one", "serviceTask", None, loop="sequential"),
                Element("again", "scriptTask", None, loop="standard"),
                Element("call", "callActivity", None),
            )
        )
    )
    assert drawn["each"].find(f".//{SVG}path[@class='marker parallel']") is not None
    assert drawn["one_by_one"].find(f".//{SVG}path[@class='marker sequential']") is not None
    assert drawn["again"].find(f".//{SVG}path[@class='marker loop']") is not None
    assert drawn["call"].find(f"{SVG}rect").get("stroke-width") == "4"


def test_names_and_ids_from_a_file_are_escaped_never_markup() -> None:
    svg = draw(layout_with(Element('x"><script>', "task", "<script>alert(1)</script>")))
    assert "<script>" not in svg
    [group] = drawn_ids(svg).values()
    assert group.get("data-element-id") == 'x"><script>'
