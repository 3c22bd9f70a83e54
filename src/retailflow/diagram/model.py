"""What a deployed file draws: its flow nodes, sequence flows, decisions and BPMN DI layout.

Coverage counts against these elements, assertion messages name them, the coverage report and
the cockpit draw them. Files are read from the engine's store, exactly as deployed, through the
same hardened parser a deployment uses, and each file is read once per process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from lxml import etree

from retailflow.bpmn import BpmnDocument, SourceFile, read_document
from retailflow.bpmn.namespaces import BPMN, BPMNDI, DC, DI
from retailflow.bpmn.sources import kind_of
from retailflow.decisions import Decision, parse_dmn
from retailflow.model import ProcessDefinition, Resource
from retailflow.stores import Store

FLOW_NODE_TAGS = frozenset(
    {
        "task",
        "serviceTask",
        "userTask",
        "manualTask",
        "scriptTask",
        "businessRuleTask",
        "sendTask",
        "receiveTask",
        "callActivity",
        "subProcess",
        "transaction",
        "adHocSubProcess",
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "exclusiveGateway",
        "parallelGateway",
        "inclusiveGateway",
        "eventBasedGateway",
        "complexGateway",
    }
)
"""BPMN flow nodes: what a token can pass and coverage counts (sequence flows apart)."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """A DI rectangle."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Element:
    """A BPMN element as drawn (a flow node, pool, lane, annotation, flow or association).

    ``event`` is the kind of its event definition (``timer``, ``message``, ``error`` ...,
    ``multiple`` when it has several); ``interrupting`` is false for a non-interrupting
    boundary or event subprocess start; ``triggered_by_event`` marks an event subprocess;
    ``loop`` is ``standard``, ``parallel`` or ``sequential`` (multi-instance) when the activity
    repeats; ``compensation`` marks an activity that compensates; ``text`` is an annotation's."""

    id: str
    tag: str
    name: str | None
    event: str | None = None
    interrupting: bool = True
    triggered_by_event: bool = False
    loop: str | None = None
    compensation: bool = False
    text: str | None = None


@dataclass(frozen=True, slots=True)
class SequenceFlow:
    """A sequence flow as drawn."""

    id: str
    name: str | None
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class Layout:
    """A file's BPMN DI: shape bounds, label bounds and edge waypoints by element id, the
    pools (participant id -> (name, process id)), and every element that has a shape or an
    edge, in document order."""

    shapes: dict[str, Bounds] = field(default_factory=dict)
    labels: dict[str, Bounds] = field(default_factory=dict)
    edges: dict[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    expanded: frozenset[str] = frozenset()
    pools: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    elements: dict[str, Element] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProcessModel:
    """One executable ``bpmn:process`` of a file (embedded subprocesses included), with the
    layout of its file."""

    process_id: str
    name: str | None
    file: str
    content_hash: str
    nodes: dict[str, Element]
    flows: dict[str, SequenceFlow]
    layout: Layout = field(default_factory=Layout, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        """A process as coverage counts it: the same id in a changed file is another one."""
        return self.process_id, self.content_hash

    def label(self, element_id: str) -> str:
        """``id "Name"`` when the element has a name, else its id."""
        node = self.nodes.get(element_id)
        name = node.name if node is not None else None
        return f'{element_id} "{name}"' if name else element_id


@dataclass(frozen=True, slots=True)
class FileModel:
    """One deployed file: its processes (BPMN) or its decisions (DMN), the message and
    signal names it defines, and its layout (every pool drawn, not only the executable ones)."""

    name: str
    content_hash: str
    processes: tuple[ProcessModel, ...] = ()
    decisions: tuple[Decision, ...] = ()
    messages: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()
    layout: Layout = field(default_factory=Layout, compare=False, repr=False)


def shown_name(file: str) -> str:
    """A deployed file's name for reports: relative to the working directory when below it
    (a library configured by absolute path is deployed under absolute names)."""
    path = Path(file)
    if not path.is_absolute():
        return file
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return file


def definition_files(store: Store, definition: ProcessDefinition) -> list[FileModel]:
    """Every file a definition runs with, its own first."""
    hashes = dict.fromkeys((definition.content_hash, *definition.resource_hashes))
    return [file_model(store.get_resource(content_hash)) for content_hash in hashes]


def file_model(resource: Resource) -> FileModel:
    """The model of a stored file, read once per session."""
    return _read(resource.name, resource.content_hash, resource.content)


@lru_cache(maxsize=256)
def _read(name: str, content_hash: str, content: bytes) -> FileModel:
    document = read_document(SourceFile(name, content, content_hash, kind_of(name) or "bpmn"))
    if not isinstance(document, BpmnDocument):
        return FileModel(name, content_hash, decisions=tuple(parse_dmn(document.root, file=name)))
    layout = _layout(document.root)
    processes = tuple(
        _process(process.element, name, content_hash, layout)
        for process in document.processes
        if process.executable
    )
    return FileModel(
        name,
        content_hash,
        processes,
        messages=tuple(n for n in document.messages.values() if n),
        signals=tuple(n for n in document.signals.values() if n),
        layout=layout,
    )


def _process(element: etree._Element, file: str, content_hash: str, layout: Layout) -> ProcessModel:
    nodes: dict[str, Element] = {}
    flows: dict[str, SequenceFlow] = {}
    for child in element.iter():
        if not isinstance(child.tag, str) or etree.QName(child).namespace != BPMN:
            continue
        tag = etree.QName(child).localname
        element_id = child.get("id")
        if element_id is None:
            continue
        if tag == "sequenceFlow":
            flows[element_id] = SequenceFlow(
                element_id,
                child.get("name"),
                child.get("sourceRef", ""),
                child.get("targetRef", ""),
            )
        elif tag in FLOW_NODE_TAGS:
            nodes[element_id] = _element(child, tag, element_id)
    return ProcessModel(
        element.get("id", ""), element.get("name"), file, content_hash, nodes, flows, layout
    )


def _element(element: etree._Element, tag: str, element_id: str) -> Element:
    text = element.findtext(f"{{{BPMN}}}text")
    return Element(
        element_id,
        tag,
        element.get("name"),
        _event_kind(element),
        element.get("cancelActivity", element.get("isInterrupting", "true")) != "false",
        element.get("triggeredByEvent") == "true",
        _loop_kind(element),
        element.get("isForCompensation") == "true",
        text.strip() if text else None,
    )


def _event_kind(element: etree._Element) -> str | None:
    kinds = [
        etree.QName(child).localname.removesuffix("EventDefinition")
        for child in element.iterchildren()
        if isinstance(child.tag, str) and child.tag.endswith("EventDefinition")
    ]
    if len(kinds) > 1:
        return "multiple"
    return kinds[0] if kinds else None


def _loop_kind(element: etree._Element) -> str | None:
    if element.find(f"{{{BPMN}}}standardLoopCharacteristics") is not None:
        return "standard"
    multi = element.find(f"{{{BPMN}}}multiInstanceLoopCharacteristics")
    if multi is None:
        return None
    return "sequential" if multi.get("isSequential") == "true" else "parallel"


def _layout(root: etree._Element) -> Layout:
    shapes: dict[str, Bounds] = {}
    labels: dict[str, Bounds] = {}
    edges: dict[str, tuple[tuple[float, float], ...]] = {}
    expanded = set()
    # Modeler saves one diagram; a second one (another view of the same model) is not drawn.
    plane = next(root.iter(f"{{{BPMNDI}}}BPMNPlane"), None)
    if plane is None:
        return Layout()
    for shape in plane.iter(f"{{{BPMNDI}}}BPMNShape"):
        element_id = shape.get("bpmnElement")
        bounds = shape.find(f"{{{DC}}}Bounds")
        if element_id is None or bounds is None:
            continue
        shapes[element_id] = _bounds(bounds)
        if shape.get("isExpanded") == "true":
            expanded.add(element_id)
        label = shape.find(f"{{{BPMNDI}}}BPMNLabel/{{{DC}}}Bounds")
        if label is not None:
            labels[element_id] = _bounds(label)
    for edge in plane.iter(f"{{{BPMNDI}}}BPMNEdge"):
        element_id = edge.get("bpmnElement")
        if element_id is None:
            continue
        edges[element_id] = tuple(
            (float(point.get("x", 0)), float(point.get("y", 0)))
            for point in edge.iter(f"{{{DI}}}waypoint")
        )
        label = edge.find(f"{{{BPMNDI}}}BPMNLabel/{{{DC}}}Bounds")
        if label is not None:
            labels[element_id] = _bounds(label)
    pools = {
        participant.get("id", ""): (participant.get("name"), participant.get("processRef"))
        for participant in root.iter(f"{{{BPMN}}}participant")
    }
    drawn = shapes.keys() | edges.keys()
    elements = {
        element.get("id", ""): _element(
            element, etree.QName(element).localname, element.get("id", "")
        )
        for element in root.iter(f"{{{BPMN}}}*")
        if element.get("id") in drawn
    }
    return Layout(shapes, labels, edges, frozenset(expanded), pools, elements)


def _bounds(element: etree._Element) -> Bounds:
    return Bounds(*(float(element.get(name, 0)) for name in ("x", "y", "width", "height")))
