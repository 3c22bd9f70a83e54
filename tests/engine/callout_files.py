"""Small Camunda 7 files and recording handlers for the delegate and listener tests."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

from retailflow import HandlerRegistry

C7_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_1" '
    'targetNamespace="http://bpmn.io/schema/bpmn" modeler:executionPlatform="Camunda Platform" '
    'modeler:executionPlatformVersion="7.21.0">\n'
)


def c7_file(tmp_path: Path, body: str, name: str = "delegates.bpmn") -> Path:
    """A Camunda 7 process ``Process_1`` made of ``body`` (flow nodes and flows)."""
    path = tmp_path / name
    path.write_text(
        f'{C7_HEAD}<bpmn:process id="Process_1" isExecutable="true">\n{body}\n'
        "</bpmn:process>\n</bpmn:definitions>\n"
    )
    return path


def chain(*nodes: str) -> str:
    """Nodes written as ``<tag id=...>...</tag>`` joined by sequence flows, start to end."""
    flows = []
    ids = ["StartEvent_1", *(_id_of(node) for node in nodes), "Event_end"]
    for index, (source, target) in enumerate(pairwise(ids)):
        flows.append(
            f'<bpmn:sequenceFlow id="Flow_{index}" sourceRef="{source}" targetRef="{target}" />'
        )
    return "\n".join(
        [
            '<bpmn:startEvent id="StartEvent_1" />',
            *nodes,
            '<bpmn:endEvent id="Event_end" />',
            *flows,
        ]
    )


def _id_of(node: str) -> str:
    return node.split('id="', 1)[1].split('"', 1)[0]


def service(element_id: str, delegate: str, extra: str = "", inner: str = "") -> str:
    return f'<bpmn:serviceTask id="{element_id}" {delegate} {extra}>{inner}</bpmn:serviceTask>'


class Calls:
    """Handlers that record what they were called with."""

    def __init__(self) -> None:
        self.registry = HandlerRegistry()
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def add(
        self,
        name: str,
        returns: dict[str, Any] | Exception | None = None,
        aliases: tuple[str, ...] = (),
    ) -> None:
        def handler(**variables: Any) -> dict[str, Any]:
            self.calls.append((name, variables))
            if isinstance(returns, Exception):
                raise returns
            return dict(returns or {})

        self.registry.register(name, handler, aliases=aliases)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def flow(flow_id: str, source: str, target: str) -> str:
    """A sequence flow from ``source`` to ``target``."""
    return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}" />'
