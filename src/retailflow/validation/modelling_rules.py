"""bpmnlint's recommended modelling rules, in Python, over each scope's flow graph.

They catch drawings that are legal XML but unsound processes: a task that forks without a
gateway, a join drawn as two arrows into a task, a gateway that does nothing. Ids and messages
follow bpmnlint (version 11) so people who know Modeler's lint panel recognise them; each
finding adds a hint saying what to draw instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from lxml import etree

from retailflow.bpmn.namespaces import bpmn_tag
from retailflow.model import Finding
from retailflow.validation.flow_graph import (
    ACTIVITIES,
    EVENTS,
    GATEWAYS,
    FlowNode,
    FlowScope,
    flow_scopes,
)
from retailflow.validation.rules import RULES

_NAMELESS_GATEWAYS = frozenset({"parallelGateway", "eventBasedGateway"})
_DISCOURAGED = {"complexGateway": "no-complex-gateway", "inclusiveGateway": "no-inclusive-gateway"}
_GLOBALS = {
    "message": "messageRef",
    "error": "errorRef",
    "escalation": "escalationRef",
    "signal": "signalRef",
}
_LANE = bpmn_tag("lane")
_ASSOCIATION = bpmn_tag("association")
_PARTICIPANT = bpmn_tag("participant")


def check_modelling(file: str, root: etree._Element) -> list[Finding]:
    """Every modelling finding of one BPMN file, scope by scope, in document order."""
    findings: list[Finding] = []
    for scope in flow_scopes(root):
        findings.extend(_scope_findings(file, scope))
        for node in scope.nodes:
            findings.extend(_node_findings(file, scope, node))
        findings.extend(_flow_findings(file, scope))
    findings.extend(_named_outside_processes(file, root))
    findings.extend(_global_findings(file, root))
    return findings


def _scope_findings(file: str, scope: FlowScope) -> Iterator[Finding]:
    what = "Process" if scope.kind == "process" else "Sub process"
    starts = [node for node in scope.nodes if node.kind == "startEvent"]
    if scope.kind == "adHocSubProcess":
        for node in scope.nodes:
            if node.kind in ("startEvent", "endEvent"):
                yield RULES["ad-hoc-sub-process"].at(
                    node.element,
                    file,
                    f"{_article(node.kind)} is not allowed in <Ad Hoc Sub Process>",
                    "remove it: the activities of an ad-hoc sub-process run in any order",
                )
    else:
        if not starts:
            yield RULES["start-event-required"].at(
                scope.element,
                file,
                f"{what} is missing start event",
                "draw a start event; without one no instance can ever start",
            )
        if not any(node.kind == "endEvent" for node in scope.nodes):
            yield RULES["end-event-required"].at(
                scope.element,
                file,
                f"{what} is missing end event",
                "draw an end event where each path finishes",
            )
    if sum(1 for node in starts if not node.event_definitions) > 1:
        yield RULES["single-blank-start-event"].at(
            scope.element,
            file,
            f"{what} has multiple blank start events",
            "keep one blank start event; give the others a message, signal or timer",
        )
    if scope.kind in ("subProcess", "transaction"):
        rule = (
            "event-sub-process-typed-start-event"
            if scope.triggered_by_event
            else "sub-process-blank-start-event"
        )
        for node in starts:
            if scope.triggered_by_event and not node.event_definitions:
                yield RULES[rule].at(
                    node.element,
                    file,
                    "Start event is missing event definition",
                    "make it a message, signal, timer or error start event",
                )
            elif not scope.triggered_by_event and node.event_definitions:
                yield RULES[rule].at(
                    node.element,
                    file,
                    "Start event must be blank",
                    "remove the event definition; a sub-process starts when the flow reaches it",
                )
    yield from _links(file, scope)
    yield from _superfluous_termination(file, scope)


def _node_findings(file: str, scope: FlowScope, node: FlowNode) -> Iterator[Finding]:
    kind, element = node.kind, node.element
    incoming, outgoing = node.incoming, node.outgoing
    if kind in _DISCOURAGED:
        yield RULES[_DISCOURAGED[kind]].at(
            element,
            file,
            f"Element type <bpmn:{kind[0].upper()}{kind[1:]}> is discouraged",
            "use exclusive or parallel gateways with explicit conditions",
        )
    yield from _connections(file, scope, node)
    if kind in ACTIVITIES or kind in EVENTS:
        unconditional = [flow for flow in outgoing if not flow.conditional and not flow.is_default]
        if len(unconditional) > 1:
            yield RULES["no-implicit-split"].at(
                element,
                file,
                "Flow splits implicitly",
                "draw a parallel gateway after it to fork the flow",
            )
        if len(incoming) > 1:
            yield RULES["fake-join"].at(
                element,
                file,
                "Incoming flows do not join",
                "draw a joining gateway in front of it: a parallel one to wait for all "
                "flows, an exclusive one to take whichever comes",
            )
    if kind in GATEWAYS:
        if len(incoming) > 1 and len(outgoing) > 1:
            yield RULES["no-gateway-join-fork"].at(
                element,
                file,
                "Gateway forks and joins",
                "split it into a joining gateway followed by a forking one",
            )
        if len(incoming) == 1 and len(outgoing) == 1:
            yield RULES["superfluous-gateway"].at(
                element,
                file,
                "Gateway is superfluous. It only has one source and target.",
                "delete the gateway and connect the flow directly",
            )
    if kind == "eventBasedGateway":
        if len(outgoing) < 2:
            yield RULES["event-based-gateway"].at(
                element,
                file,
                "An <Event-based Gateway> must have at least 2 outgoing <Sequence Flows>",
                "draw one flow to each event the process waits for",
            )
        for flow in outgoing:
            if flow.conditional:
                yield RULES["event-based-gateway"].at(
                    flow.element,
                    file,
                    "A <Sequence Flow> outgoing from an <Event-based "
                    "Gateway> must not be conditional",
                    "remove the condition: the event that happens first decides",
                )
    if kind in EVENTS and len(node.event_definitions) > 1:
        yield RULES["single-event-definition"].at(
            element,
            file,
            "Event has multiple event definitions",
            "keep one event definition per event; draw several events for several triggers",
        )
    if _label_required(node) and not node.name:
        yield RULES["label-required"].at(
            element,
            file,
            "Element is missing label/name",
            "name it in Modeler, as the business would say it",
        )


def _connections(file: str, scope: FlowScope, node: FlowNode) -> Iterator[Finding]:
    """A node with no flows at all is reported once, as disconnected; one with flows only on
    one side as an implicit start or end (bpmnlint reports all three for a lonely task)."""
    kind = node.kind
    if scope.kind == "adHocSubProcess" or node.triggered_by_event:
        return  # ad-hoc activities and event sub-processes need no flows
    if node.for_compensation:
        return  # a compensation handler hangs off an association, not sequence flows
    compensation = kind == "boundaryEvent" and node.event_definitions == [
        "compensateEventDefinition"
    ]
    link = node.event_definitions == ["linkEventDefinition"]
    # bpmnlint leaves a lonely call activity or compensation boundary to the implicit rules
    if not node.incoming and not node.outgoing and kind != "callActivity" and not compensation:
        yield RULES["no-disconnected"].at(
            node.element,
            file,
            "Element is not connected",
            "connect it with sequence flows, or delete it",
        )
        return
    if (
        not node.incoming
        and kind not in ("startEvent", "boundaryEvent")
        and not (kind == "intermediateCatchEvent" and link)
    ):
        yield RULES["no-implicit-start"].at(
            node.element,
            file,
            "Element is an implicit start",
            "connect a flow into it, or start the process with a start event",
        )
    if (
        not node.outgoing
        and kind != "endEvent"
        and not (kind == "intermediateThrowEvent" and link)
        and not (compensation and _associated(scope, node))
    ):
        yield RULES["no-implicit-end"].at(
            node.element,
            file,
            "Element is an implicit end",
            "connect it to an end event so the path visibly finishes",
        )


def _associated(scope: FlowScope, node: FlowNode) -> bool:
    """Whether an association in the process starts at the node (a compensation boundary's
    link to its handler)."""
    process = scope
    while process.parent is not None:
        process = process.parent
    return any(
        association.get("sourceRef") == node.id
        for association in process.element.iter(_ASSOCIATION)
    )


def _flow_findings(file: str, scope: FlowScope) -> Iterator[Finding]:
    seen: dict[tuple[str, str, str], str] = {}
    reported_sources: set[str] = set()
    reported_targets: set[str] = set()
    for node in scope.nodes:
        conditional_fork = node.element.get("default") is not None or any(
            flow.conditional for flow in node.outgoing
        )
        if conditional_fork:
            for flow in node.outgoing:
                if not flow.conditional and not flow.is_default:
                    yield RULES["conditional-flows"].at(
                        flow.element,
                        file,
                        "Sequence flow is missing condition",
                        "give the flow a condition, or mark it as the default flow",
                    )
    for flow in scope.flows:
        source_id = flow.element.get("sourceRef") or flow.id
        target_id = flow.element.get("targetRef") or flow.id
        key = (source_id, target_id, flow.condition or "")
        if key not in seen:
            seen[key] = flow.id
        else:
            yield RULES["no-duplicate-sequence-flows"].at(
                flow.element,
                file,
                "SequenceFlow is a duplicate",
                f"delete it: flow '{seen[key]}' already connects the same elements",
            )
            for node, reported, message in (
                (flow.source, reported_sources, "Duplicate outgoing sequence flows"),
                (flow.target, reported_targets, "Duplicate incoming sequence flows"),
            ):
                if node is not None and node.id not in reported:
                    reported.add(node.id)
                    yield RULES["no-duplicate-sequence-flows"].at(
                        node.element, file, message, "delete the duplicate flow"
                    )
        if flow.conditional and not flow.element.get("name", "").strip():
            yield RULES["label-required"].at(
                flow.element,
                file,
                "Element is missing label/name",
                "label the flow with its condition in words, e.g. 'in stock'",
            )
        if (
            flow.element.get("name", "").strip()
            and not flow.conditional
            and not flow.is_default
            and not _decision_fork(flow.source)
        ):
            yield RULES["superfluous-label"].at(
                flow.element,
                file,
                "Sequence flow has superfluous label",
                "remove the label: only choices and conditions need one",
            )


def _decision_fork(node: FlowNode | None) -> bool:
    return (
        node is not None
        and node.kind in ("exclusiveGateway", "inclusiveGateway")
        and len(node.outgoing) > 1
    )


def _label_required(node: FlowNode) -> bool:
    if node.kind in _NAMELESS_GATEWAYS or node.kind in (
        "subProcess",
        "transaction",
        "adHocSubProcess",
    ):
        return False
    return not (node.kind in GATEWAYS and len(node.outgoing) <= 1)


def _named_outside_processes(file: str, root: etree._Element) -> Iterator[Finding]:
    """Pools and lanes need labels too: they say who does the work."""
    for element in root.iter(_PARTICIPANT, _LANE):
        if not (element.get("name") or "").strip():
            yield RULES["label-required"].at(
                element,
                file,
                "Element is missing label/name",
                "name the pool or lane after who does the work",
            )


def _links(file: str, scope: FlowScope) -> Iterator[Finding]:
    links: dict[str, list[FlowNode]] = {}
    for node in scope.nodes:
        if "linkEventDefinition" not in node.event_definitions or node.kind not in EVENTS:
            continue
        definition = node.element.find(bpmn_tag("linkEventDefinition"))
        name = (definition.get("name") if definition is not None else None) or ""
        if not name.strip():
            yield RULES["link-event"].at(
                node.element,
                file,
                "Link event is missing link name",
                "give the throw and the catch the same link name",
            )
            continue
        links.setdefault(name, []).append(node)
    for name, events in links.items():
        catches = [event for event in events if event.kind == "intermediateCatchEvent"]
        if len(events) == 1:
            partner = "catch" if events[0].kind == "intermediateThrowEvent" else "throw"
            yield RULES["link-event"].at(
                events[0].element,
                file,
                f"Link {partner} event with link name <{name}> missing in scope",
                "draw the partner event in the same process with the same link name",
            )
        elif len(catches) != 1:
            problem = "Duplicate link catch" if catches else "Link catch"
            missing = " in scope" if catches else " missing in scope"
            for event in catches or events:
                yield RULES["link-event"].at(
                    event.element,
                    file,
                    f"{problem} event with link name <{name}>{missing}",
                    "keep exactly one catch event per link name",
                )


def _superfluous_termination(file: str, scope: FlowScope) -> Iterator[Finding]:
    ends = [node for node in scope.nodes if not node.outgoing]
    terminates = [
        node
        for node in ends
        if node.kind == "endEvent" and "terminateEventDefinition" in node.event_definitions
    ]
    if len(terminates) != 1:
        return
    if all(node in terminates or _interrupting_event_sub_process(node) for node in ends):
        yield RULES["superfluous-termination"].at(
            terminates[0].element,
            file,
            "Termination is superfluous.",
            "use a plain end event: nothing else is running when this one is reached",
        )


def _interrupting_event_sub_process(node: FlowNode) -> bool:
    if node.kind != "subProcess" or not node.triggered_by_event:
        return False
    return any(
        start.get("isInterrupting", "true").strip() != "false"
        for start in node.element.iterchildren(bpmn_tag("startEvent"))
    )


def _global_findings(file: str, root: etree._Element) -> Iterator[Finding]:
    """Messages, errors, escalations and signals: named, used, and named once per kind."""
    attributes = tuple(_GLOBALS.values())
    used = {
        reference
        for element in root.iter(etree.Element)
        for attribute in attributes
        if (reference := element.get(attribute))
    }
    for kind in _GLOBALS:
        elements = list(root.iterchildren(bpmn_tag(kind)))
        names = Counter(element.get("name") for element in elements)
        for element in elements:
            name = element.get("name")
            if name is not None and not name.strip():
                yield RULES["global"].at(
                    element, file, "Element is missing name", f"name the {kind} in Modeler"
                )
            if element.get("id") not in used:
                yield RULES["global"].at(
                    element,
                    file,
                    "Element is unused",
                    f"delete the {kind}, or select it on the event that should use it",
                )
            if names[name] > 1:
                yield RULES["global"].at(
                    element, file, "Element name is not unique", f"give each {kind} its own name"
                )


def _article(kind: str) -> str:
    return "A <Start Event>" if kind == "startEvent" else "An <End Event>"
