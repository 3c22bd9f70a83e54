"""bpmnlint's recommended modelling rules: each fires on a broken diagram and stays quiet on its
near twin that draws the same thing properly."""

from __future__ import annotations

import pytest
from diagrams import START_TO_END, flow, node, process
from lxml import etree

from retailflow.validation.modelling_rules import check_modelling

S, F1, T, F2, E = START_TO_END
MESSAGE = '  <bpmn:message id="m1" name="paid" />\n'
TIMER = (
    '<bpmn:timerEventDefinition id="td"><bpmn:timeDuration>PT1H</bpmn:timeDuration>'
    "</bpmn:timerEventDefinition>"
)


def found(content: bytes) -> list[tuple[str, str | None]]:
    root = etree.fromstring(content)
    return [(finding.rule, finding.element_id) for finding in check_modelling("p.bpmn", root)]


def fork(kind: str, *outgoing: str, default: str | None = None) -> str:
    attrs = f'default="{default}"' if default else ""
    return node(kind, "split", attrs=attrs) + "".join(outgoing)


TWO_ENDS = node("endEvent", "end_a") + node("endEvent", "end_b")
S2 = node("startEvent", "s2", inner='<bpmn:messageEventDefinition id="md2" messageRef="m1" />')

CASES: dict[str, tuple[bytes, bytes, list[tuple[str, str | None]]]] = {
    "start-event-required": (
        process(node("task", "task"), F2, E),
        process(*START_TO_END),
        [("start-event-required", "p")],
    ),
    "end-event-required": (
        process(S, F1, node("task", "task")),
        process(*START_TO_END),
        [("end-event-required", "p")],
    ),
    "no-disconnected": (
        process(*START_TO_END, node("task", "lonely")),
        process(*START_TO_END),
        [("no-disconnected", "lonely")],
    ),
    "no-implicit-start": (
        process(*START_TO_END, node("task", "orphan"), flow("f9", "orphan", "end")),
        process(*START_TO_END),
        [("no-implicit-start", "orphan")],
    ),
    "no-implicit-end": (
        process(*START_TO_END, node("task", "dead_end"), flow("f9", "start", "dead_end")),
        process(*START_TO_END),
        [("no-implicit-end", "dead_end")],
    ),
    "no-implicit-split": (
        process(S, F1, T, flow("fa", "task", "end_a"), flow("fb", "task", "end_b"), TWO_ENDS),
        process(
            S,
            F1,
            T,
            flow("fg", "task", "split"),
            fork("parallelGateway", flow("fa", "split", "end_a"), flow("fb", "split", "end_b")),
            TWO_ENDS,
        ),
        [("no-implicit-split", "task")],
    ),
    "fake-join": (
        process(
            S,
            flow("f1", "start", "split"),
            fork(
                "exclusiveGateway",
                flow("fa", "split", "task", "=a", "a"),
                flow("fb", "split", "task", "=b", "b"),
            ),
            T,
            F2,
            E,
        ),
        process(
            S,
            flow("f1", "start", "split"),
            fork(
                "exclusiveGateway",
                flow("fa", "split", "join", "=a", "a"),
                flow("fb", "split", "join", "=b", "b"),
            ),
            node("exclusiveGateway", "join", None),
            flow("fj", "join", "task"),
            T,
            F2,
            E,
        ),
        [("fake-join", "task")],
    ),
    "conditional-flows": (
        process(
            S,
            flow("f1", "start", "split"),
            fork(
                "exclusiveGateway",
                flow("fa", "split", "end_a", "=big", "big"),
                flow("fb", "split", "end_b"),
            ),
            TWO_ENDS,
        ),
        process(
            S,
            flow("f1", "start", "split"),
            fork(
                "exclusiveGateway",
                flow("fa", "split", "end_a", "=big", "big"),
                flow("fb", "split", "end_b"),
                default="fb",
            ),
            TWO_ENDS,
        ),
        [("conditional-flows", "fb")],
    ),
    "no-duplicate-sequence-flows": (
        process(*START_TO_END, flow("f3", "task", "end")),
        process(*START_TO_END),
        [
            ("no-duplicate-sequence-flows", "f3"),
            ("no-duplicate-sequence-flows", "task"),
            ("no-duplicate-sequence-flows", "end"),
        ],
    ),
    "label-required": (
        process(S, F1, node("task", "task", None), F2, E),
        process(*START_TO_END),
        [("label-required", "task")],
    ),
    "no-gateway-join-fork": (
        process(
            node("startEvent", "s1"),
            S2,
            flow("fa", "s1", "gw"),
            flow("fb", "s2", "gw"),
            node("parallelGateway", "gw", None),
            flow("fc", "gw", "end_a"),
            flow("fd", "gw", "end_b"),
            TWO_ENDS,
            extra=MESSAGE,
        ),
        process(
            node("startEvent", "s1"),
            S2,
            flow("fa", "s1", "gw"),
            flow("fb", "s2", "gw"),
            node("parallelGateway", "gw", None),
            flow("fc", "gw", "fork"),
            node("parallelGateway", "fork", None),
            flow("fe", "fork", "end_a"),
            flow("fd", "fork", "end_b"),
            TWO_ENDS,
            extra=MESSAGE,
        ),
        [("no-gateway-join-fork", "gw")],
    ),
    "superfluous-gateway": (
        process(
            S,
            flow("f1", "start", "gw"),
            node("exclusiveGateway", "gw", None),
            flow("fg", "gw", "task"),
            T,
            F2,
            E,
        ),
        process(*START_TO_END),
        [("superfluous-gateway", "gw")],
    ),
    "single-blank-start-event": (
        process(
            *START_TO_END,
            node("startEvent", "again"),
            flow("f9", "again", "end_a"),
            node("endEvent", "end_a"),
        ),
        process(
            *START_TO_END,
            node(
                "startEvent",
                "again",
                inner='<bpmn:messageEventDefinition id="md" messageRef="m1" />',
            ),
            flow("f9", "again", "end_a"),
            node("endEvent", "end_a"),
            extra=MESSAGE,
        ),
        [("single-blank-start-event", "p")],
    ),
    "single-event-definition": (
        process(
            node(
                "startEvent",
                "start",
                inner=f'<bpmn:messageEventDefinition id="md" messageRef="m1" />{TIMER}',
            ),
            F1,
            T,
            F2,
            E,
            extra=MESSAGE,
        ),
        process(node("startEvent", "start", inner=TIMER), F1, T, F2, E),
        [("single-event-definition", "start")],
    ),
    "no-complex-gateway": (
        process(
            S,
            flow("f1", "start", "gw"),
            node("complexGateway", "gw"),
            flow("fa", "gw", "end_a", "=a", "a"),
            flow("fb", "gw", "end_b", "=b", "b"),
            TWO_ENDS,
        ),
        process(
            S,
            flow("f1", "start", "gw"),
            node("exclusiveGateway", "gw"),
            flow("fa", "gw", "end_a", "=a", "a"),
            flow("fb", "gw", "end_b", "=b", "b"),
            TWO_ENDS,
        ),
        [("no-complex-gateway", "gw")],
    ),
    "event-based-gateway": (
        process(
            S,
            flow("f1", "start", "gw"),
            node("eventBasedGateway", "gw", None),
            flow("fg", "gw", "wait"),
            node("intermediateCatchEvent", "wait", inner=TIMER),
            flow("fw", "wait", "end"),
            E,
        ),
        process(
            S,
            flow("f1", "start", "gw"),
            node("eventBasedGateway", "gw", None),
            flow("fg", "gw", "wait"),
            node("intermediateCatchEvent", "wait", inner=TIMER),
            flow("fh", "gw", "paid"),
            node(
                "intermediateCatchEvent",
                "paid",
                inner='<bpmn:messageEventDefinition id="md" messageRef="m1" />',
            ),
            flow("fw", "wait", "end"),
            flow("fp", "paid", "end_a"),
            E,
            node("endEvent", "end_a"),
            extra=MESSAGE,
        ),
        [("event-based-gateway", "gw")],
    ),
    "sub-process-blank-start-event": (
        process(
            S,
            flow("f1", "start", "sub"),
            node(
                "subProcess",
                "sub",
                inner=node("startEvent", "inner", inner=TIMER)
                + flow("fi", "inner", "inner_end")
                + node("endEvent", "inner_end"),
            ),
            flow("f2", "sub", "end"),
            E,
        ),
        process(
            S,
            flow("f1", "start", "sub"),
            node(
                "subProcess",
                "sub",
                inner=node("startEvent", "inner")
                + flow("fi", "inner", "inner_end")
                + node("endEvent", "inner_end"),
            ),
            flow("f2", "sub", "end"),
            E,
        ),
        [("sub-process-blank-start-event", "inner")],
    ),
    "event-sub-process-typed-start-event": (
        process(
            *START_TO_END,
            node(
                "subProcess",
                "on_cancel",
                attrs='triggeredByEvent="true"',
                inner=node("startEvent", "cancel")
                + flow("fc", "cancel", "cancelled")
                + node("endEvent", "cancelled"),
            ),
        ),
        process(
            *START_TO_END,
            node(
                "subProcess",
                "on_cancel",
                attrs='triggeredByEvent="true"',
                inner=node("startEvent", "cancel", inner=TIMER)
                + flow("fc", "cancel", "cancelled")
                + node("endEvent", "cancelled"),
            ),
        ),
        [("event-sub-process-typed-start-event", "cancel")],
    ),
    "ad-hoc-sub-process": (
        process(
            S,
            flow("f1", "start", "adhoc"),
            node(
                "adHocSubProcess",
                "adhoc",
                inner=node("startEvent", "inner") + node("task", "anything"),
            ),
            flow("f2", "adhoc", "end"),
            E,
        ),
        process(
            S,
            flow("f1", "start", "adhoc"),
            node("adHocSubProcess", "adhoc", inner=node("task", "anything")),
            flow("f2", "adhoc", "end"),
            E,
        ),
        [("ad-hoc-sub-process", "inner")],
    ),
    "superfluous-termination": (
        process(
            S, F1, T, F2, node("endEvent", "end", inner='<bpmn:terminateEventDefinition id="td" />')
        ),
        process(*START_TO_END),
        [("superfluous-termination", "end")],
    ),
    "global": (
        process(*START_TO_END, extra=MESSAGE),
        process(S, F1, node("receiveTask", "task", attrs='messageRef="m1"'), F2, E, extra=MESSAGE),
        [("global", "m1")],
    ),
    "link-event": (
        process(
            S,
            F1,
            T,
            flow("f2", "task", "jump"),
            node(
                "intermediateThrowEvent",
                "jump",
                inner='<bpmn:linkEventDefinition id="ld" name="to_end" />',
            ),
        ),
        process(
            S,
            F1,
            T,
            flow("f2", "task", "jump"),
            node(
                "intermediateThrowEvent",
                "jump",
                inner='<bpmn:linkEventDefinition id="ld" name="to_end" />',
            ),
            node(
                "intermediateCatchEvent",
                "land",
                inner='<bpmn:linkEventDefinition id="lc" name="to_end" />',
            ),
            flow("f3", "land", "end"),
            E,
        ),
        [("link-event", "jump")],
    ),
    "superfluous-label": (
        process(S, F1, T, flow("f2", "task", "end", name="then"), E),
        process(*START_TO_END),
        [("superfluous-label", "f2")],
    ),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fires_on_the_broken_diagram_only(rule: str) -> None:
    broken, clean, expected = CASES[rule]

    assert [item for item in found(broken) if item[0] == rule] == expected
    assert found(clean) == []


def test_a_clean_diagram_with_subprocess_boundary_and_event_gateway_has_no_findings() -> None:
    boundary = node("boundaryEvent", "late", attrs='attachedToRef="task"', inner=TIMER)
    content = process(
        *START_TO_END, boundary, flow("f9", "late", "late_end"), node("endEvent", "late_end")
    )

    assert found(content) == []


def test_inclusive_gateways_are_reported_under_bpmnlints_id() -> None:
    content = process(
        S,
        flow("f1", "start", "gw"),
        node("inclusiveGateway", "gw"),
        flow("fa", "gw", "end_a", "=a", "a"),
        flow("fb", "gw", "end_b", "=b", "b"),
        TWO_ENDS,
    )

    assert found(content) == [("no-inclusive-gateway", "gw")]
