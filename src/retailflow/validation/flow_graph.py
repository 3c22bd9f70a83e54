"""Each process and sub-process of a file as a graph of flow nodes and sequence flows.

The modelling rules and the variable analysis ask graph questions (how many flows enter this
task, which steps come before it). The graph is built from the flows' ``sourceRef`` and
``targetRef``, which is what the engine runs, not from the ``<incoming>``/``<outgoing>``
children Modeler also writes: a hand-edited file where the two disagree runs as the refs say.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from retailflow.bpmn.namespaces import bpmn_tag


def _local(names: str) -> frozenset[str]:
    return frozenset(names.split())


TASKS = _local(
    "task serviceTask sendTask receiveTask userTask manualTask scriptTask businessRuleTask"
)
SCOPES = _local("subProcess transaction adHocSubProcess")
ACTIVITIES = TASKS | SCOPES | {"callActivity"}
EVENTS = _local("startEvent endEvent intermediateCatchEvent intermediateThrowEvent boundaryEvent")
GATEWAYS = _local(
    "exclusiveGateway inclusiveGateway parallelGateway eventBasedGateway complexGateway"
)
FLOW_NODES = ACTIVITIES | EVENTS | GATEWAYS
_SEQUENCE_FLOW = bpmn_tag("sequenceFlow")
_CONDITION = bpmn_tag("conditionExpression")
_BPMN_PREFIX = bpmn_tag("")


@dataclass(eq=False, slots=True)
class SequenceFlow:
    """A sequence flow; ``source`` and ``target`` are None when the ref names no node of the
    same scope (the runtime rules report that)."""

    element: etree._Element
    id: str
    source: FlowNode | None = None
    target: FlowNode | None = None
    condition: str | None = None
    """The condition's text as written ('' for an empty one), None for an unconditional flow."""

    @property
    def conditional(self) -> bool:
        """Whether the flow carries a condition (bpmnlint counts even an empty one)."""
        return self.condition is not None

    @property
    def is_default(self) -> bool:
        """Whether the flow is its source's default flow."""
        return self.source is not None and self.source.element.get("default") == self.id


@dataclass(eq=False, slots=True)
class FlowNode:
    """A task, event, gateway, call activity or sub-process; ``kind`` is its local tag name."""

    element: etree._Element
    id: str
    kind: str
    incoming: list[SequenceFlow] = field(default_factory=list)
    outgoing: list[SequenceFlow] = field(default_factory=list)
    event_definitions: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The label, stripped ('' when there is none)."""
        return (self.element.get("name") or "").strip()

    @property
    def triggered_by_event(self) -> bool:
        """Whether the node is an event sub-process."""
        return self.element.get("triggeredByEvent", "false").strip() == "true"

    @property
    def link_name(self) -> str | None:
        """The link name of a link throw or catch event; None for any other node."""
        link = self.element.find(bpmn_tag("linkEventDefinition"))
        return None if link is None else link.get("name", "")

    @property
    def for_compensation(self) -> bool:
        """Whether the activity is a compensation handler (linked by an association)."""
        return self.element.get("isForCompensation", "false").strip() == "true"


@dataclass(eq=False, slots=True)
class FlowScope:
    """The flow nodes and sequence flows directly inside one process or sub-process.

    ``owner`` is the sub-process's own node in the ``parent`` scope (None for a process).
    """

    element: etree._Element
    id: str
    kind: str
    nodes: list[FlowNode] = field(default_factory=list)
    flows: list[SequenceFlow] = field(default_factory=list)
    parent: FlowScope | None = None
    owner: FlowNode | None = None

    @property
    def triggered_by_event(self) -> bool:
        """Whether the scope is an event sub-process."""
        return self.owner is not None and self.owner.triggered_by_event

    def node(self, node_id: str) -> FlowNode | None:
        """The node with this id in this scope, if any."""
        return next((node for node in self.nodes if node.id == node_id), None)


def flow_scopes(root: etree._Element) -> list[FlowScope]:
    """Every process of a ``bpmn:definitions`` and every sub-process inside, outermost first."""
    scopes: list[FlowScope] = []
    for process in root.iterchildren(bpmn_tag("process")):
        _add_scope(process, None, None, scopes)
    return scopes


def _add_scope(
    element: etree._Element,
    parent: FlowScope | None,
    owner: FlowNode | None,
    scopes: list[FlowScope],
) -> None:
    scope = FlowScope(
        element, element.get("id") or "", etree.QName(element).localname, parent=parent, owner=owner
    )
    scopes.append(scope)
    by_id: dict[str, FlowNode] = {}
    inner: list[FlowNode] = []
    for child in element.iterchildren(etree.Element):
        tag = child.tag
        if not isinstance(tag, str) or not tag.startswith(_BPMN_PREFIX):
            continue
        if tag == _SEQUENCE_FLOW:
            condition = child.find(_CONDITION)
            scope.flows.append(
                SequenceFlow(
                    child,
                    child.get("id") or "",
                    condition=None if condition is None else (condition.text or "").strip(),
                )
            )
            continue
        kind = tag[len(_BPMN_PREFIX) :]
        if kind not in FLOW_NODES:
            continue
        node = FlowNode(
            child,
            child.get("id") or "",
            kind,
            event_definitions=[
                etree.QName(definition).localname
                for definition in child.iterchildren(etree.Element)
                if isinstance(definition.tag, str) and definition.tag.endswith("EventDefinition")
            ],
        )
        scope.nodes.append(node)
        if node.id:
            by_id.setdefault(node.id, node)
        if kind in SCOPES:
            inner.append(node)
    for flow in scope.flows:
        flow.source = by_id.get(flow.element.get("sourceRef") or "")
        flow.target = by_id.get(flow.element.get("targetRef") or "")
        if flow.source is not None:
            flow.source.outgoing.append(flow)
        if flow.target is not None:
            flow.target.incoming.append(flow)
    for node in inner:
        _add_scope(node.element, scope, node, scopes)
