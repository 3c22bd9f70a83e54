"""Which variables may exist when a token reaches a step: what the steps before it write.

The analysis is deliberately generous, because a linter that cries wolf gets switched off: a
variable counts as set if *any* path into the step sets it, and a step whose writes cannot be
known statically (a form, a message payload, a handler without a typed result, a script) may
have set anything, so nothing after it is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from retailflow.bpmn.extensions import ElementConfig, read_element_config
from retailflow.bpmn.namespaces import bpmn_tag
from retailflow.handlers import HandlerRegistry
from retailflow.validation.flow_graph import SCOPES, FlowNode, FlowScope

_PAYLOAD_EVENTS = frozenset(
    {
        "messageEventDefinition",
        "signalEventDefinition",
        "errorEventDefinition",
        "escalationEventDefinition",
    }
)
_MULTI_INSTANCE = bpmn_tag("multiInstanceLoopCharacteristics")
_FROM_OUTSIDE = frozenset({"userTask", "receiveTask"})
"""Steps completed with data from outside: a form, a message."""


@dataclass(frozen=True, slots=True)
class Writes:
    """The variables a step (or the steps before one) may set; ``anything`` when unknowable."""

    names: frozenset[str] = frozenset()
    anything: bool = False

    def __or__(self, other: Writes) -> Writes:
        return Writes(self.names | other.names, self.anything or other.anything)

    def __contains__(self, name: object) -> bool:
        return self.anything or name in self.names


@dataclass(slots=True)
class VariableFlow:
    """Answers "what may be set before this step" for the nodes of one file's processes.

    ``start_variables`` are what every instance is started with (configuration); ``handlers``
    tell what a service task's handler returns.
    """

    handlers: HandlerRegistry
    start_variables: frozenset[str] = frozenset()
    _writes: dict[FlowNode, Writes] = field(default_factory=dict)
    _inner: dict[FlowNode, FlowScope] = field(default_factory=dict)

    def add_scopes(self, scopes: list[FlowScope]) -> None:
        """Index a file's scopes (from ``flow_scopes``): a sub-process writes what its steps
        write."""
        for scope in scopes:
            if scope.owner is not None:
                self._inner[scope.owner] = scope

    def before(self, node: FlowNode, scope: FlowScope) -> Writes:
        """What the steps that can run before ``node`` (in its scope and enclosing ones) set."""
        seen: set[FlowNode] = set()
        pending = self._entry_points(node, scope)
        result = Writes()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            result = result | self.writes(current)
            pending.extend(self._entry_points(current, scope))
        if scope.owner is None or scope.parent is None or scope.triggered_by_event:
            # a process starts with them; an event sub-process may interrupt at any point
            return result | Writes(self.start_variables)
        return result | self.before(scope.owner, scope.parent)

    def writes(self, node: FlowNode) -> Writes:
        """What one step may set when it completes."""
        known = self._writes.get(node)
        if known is None:
            known = self._writes[node] = self._compute_writes(node)
        return known

    def _entry_points(self, node: FlowNode, scope: FlowScope) -> list[FlowNode]:
        """The steps a token comes from; a boundary event fires while its host still runs, so
        it comes from wherever the host came from; a link catch from its link throws; a
        compensation handler from the compensation throws of its scope."""
        sources = [flow.source for flow in node.incoming if flow.source is not None]
        if node.kind == "intermediateCatchEvent" and node.link_name is not None:
            sources.extend(
                other
                for other in scope.nodes
                if other.kind == "intermediateThrowEvent" and other.link_name == node.link_name
            )
        if node.for_compensation:
            sources.extend(
                other
                for other in scope.nodes
                if other.kind in ("intermediateThrowEvent", "endEvent")
                and "compensateEventDefinition" in other.event_definitions
            )
        if node.kind == "boundaryEvent":
            host = scope.node(node.element.get("attachedToRef") or "")
            if host is not None:
                sources.extend(flow.source for flow in host.incoming if flow.source is not None)
        return sources

    def _compute_writes(self, node: FlowNode) -> Writes:
        config = read_element_config(node.element)
        mapped = frozenset(mapping.target for mapping in config.outputs if mapping.target)
        if node.kind in SCOPES:
            return self._scope_writes(node)
        if node.element.find(_MULTI_INSTANCE) is not None:
            return Writes(anything=True)  # an output collection, gathered per instance
        if node.kind == "callActivity":
            return Writes(mapped, anything=config.returns_all_child_variables)
        if config.outputs:
            return Writes(mapped)
        if config.job_type is not None:
            # a job, also a message throw or end event with a job type: its handler's result
            return self._handler_writes(config)
        if _PAYLOAD_EVENTS.intersection(node.event_definitions) or node.kind in _FROM_OUTSIDE:
            return Writes(anything=True)  # a message or error payload, a form
        result = config.script_result_variable or config.result_variable
        if node.kind in ("scriptTask", "businessRuleTask"):
            return Writes(frozenset({result}) if result else frozenset(), anything=not result)
        return Writes()

    def _handler_writes(self, config: ElementConfig) -> Writes:
        handler = self.handlers.get(config.job_type or "")
        if handler is None or handler.output_fields is None:
            return Writes(anything=True)
        return Writes(handler.output_fields)

    def _scope_writes(self, node: FlowNode) -> Writes:
        """A sub-process writes whatever its steps write."""
        inner = self._inner.get(node)
        result = Writes()
        if inner is not None:
            for step in inner.nodes:
                result = result | self.writes(step)
        return result
