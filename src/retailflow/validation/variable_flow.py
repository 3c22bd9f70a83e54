"""Which variables may exist when a token reaches a step: what the steps before it write.

The analysis is deliberately generous, because a linter that cries wolf gets switched off: a
variable counts as set if *any* path into the step sets it, and a step whose writes cannot be
known statically (a form, a message payload, a handler without a typed result, a script) may
have set anything, so nothing after it is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from retailflow.bpmn.extensions import ElementConfig, read_element_config
from retailflow.handlers import HandlerRegistry
from retailflow.validation.flow_graph import SCOPES, FlowNode, FlowScope

_PAYLOAD_EVENTS = frozenset({"messageEventDefinition", "signalEventDefinition",
                             "errorEventDefinition", "escalationEventDefinition"})
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
    _parents: dict[FlowScope, FlowNode | None] = field(default_factory=dict)

    def add_scopes(self, scopes: list[FlowScope]) -> None:
        """Index a file's scopes (from ``flow_scopes``) so sub-processes see their parents."""
        owners = {node.element: node for scope in scopes for node in scope.nodes}
        for scope in scopes:
            self._parents[scope] = owners.get(scope.element)

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
            result = result | self.writes(current, scope)
            pending.extend(self._entry_points(current, scope))
        owner = self._parents.get(scope)
        if owner is not None and scope.parent is not None:
            if scope.triggered_by_event:
                result = result | Writes(self.start_variables)  # may interrupt at any point
            else:
                result = result | self.before(owner, scope.parent)
        elif owner is None:
            result = result | Writes(self.start_variables)
        return result

    def writes(self, node: FlowNode, scope: FlowScope) -> Writes:
        """What one step may set when it completes."""
        known = self._writes.get(node)
        if known is None:
            known = self._writes[node] = self._compute_writes(node, scope)
        return known

    def _entry_points(self, node: FlowNode, scope: FlowScope) -> list[FlowNode]:
        """The steps a token comes from; a boundary event fires while its host still runs, so
        it comes from wherever the host came from."""
        sources = [flow.source for flow in node.incoming if flow.source is not None]
        if node.kind == "boundaryEvent":
            host = scope.node(node.element.get("attachedToRef") or "")
            if host is not None:
                sources.extend(flow.source for flow in host.incoming if flow.source is not None)
        return sources

    def _compute_writes(self, node: FlowNode, scope: FlowScope) -> Writes:
        config = read_element_config(node.element)
        mapped = frozenset(mapping.target for mapping in config.outputs if mapping.target)
        if node.kind in SCOPES:
            return self._scope_writes(node, scope)
        if config.outputs:
            return Writes(mapped)
        if _PAYLOAD_EVENTS.intersection(node.event_definitions) or node.kind in _FROM_OUTSIDE:
            return Writes(anything=True)
        if config.job_type is not None:
            return self._handler_writes(config)
        if node.kind == "callActivity":
            return Writes(anything=config.propagate_all_child_variables)
        result = config.script_result_variable or config.result_variable
        if node.kind in ("scriptTask", "businessRuleTask"):
            return Writes(frozenset({result}) if result else frozenset(), anything=not result)
        return Writes()

    def _handler_writes(self, config: ElementConfig) -> Writes:
        handler = self.handlers.get(config.job_type or "")
        if handler is None or handler.output_fields is None:
            return Writes(anything=True)
        return Writes(handler.output_fields)

    def _scope_writes(self, node: FlowNode, scope: FlowScope) -> Writes:
        """A sub-process sets whatever its steps set."""
        result = Writes()
        for inner in (candidate for candidate in self._parents
                      if self._parents[candidate] is node):
            for step in inner.nodes:
                result = result | self.writes(step, inner)
        return result
