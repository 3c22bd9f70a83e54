"""Input and output mappings: what a handler sees, and what its result writes back.

The semantics follow Camunda: input mappings add (local) variables on top of everything the
task can see; without output mappings the whole result is merged into the process, with them
only the mapped targets are written, each evaluated against the variables plus the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from retailflow.bpmn.extensions import IoMapping
from retailflow.expressions import ExpressionEngine


def map_inputs(
    mappings: Sequence[IoMapping],
    variables: Mapping[str, Any],
    expressions: ExpressionEngine,
    element_id: str | None,
) -> dict[str, Any]:
    """The variables a handler receives: the task's variables overlaid with its inputs."""
    visible = dict(variables)
    for mapping in mappings:
        _assign(visible, mapping.target, _value(mapping, variables, expressions, element_id))
    return visible


def map_outputs(
    mappings: Sequence[IoMapping],
    variables: Mapping[str, Any],
    result: Mapping[str, Any],
    expressions: ExpressionEngine,
    element_id: str | None,
) -> dict[str, Any]:
    """The updates to write into the process after a handler returned ``result``.

    ``variables`` is what the element sees: the process's variables overlaid with the local
    ones its input mappings made (``map_inputs``), so an output mapping reads those too, as in
    Camunda, where outputs are evaluated in the element's own scope."""
    if not mappings:
        return dict(result)
    scope = {**variables, **result}
    updates: dict[str, Any] = {}
    for mapping in mappings:
        _assign(updates, mapping.target, _value(mapping, scope, expressions, element_id))
    return updates


def _value(
    mapping: IoMapping,
    variables: Mapping[str, Any],
    expressions: ExpressionEngine,
    element_id: str | None,
) -> Any:
    if mapping.kind == "expression" and mapping.source is not None:
        return expressions.evaluate(mapping.source, variables, element_id=element_id)
    return mapping.value


def _assign(target: dict[str, Any], path: str, value: Any) -> None:
    """Set ``a.b.c`` as nested contexts, the way Camunda 8 output targets do."""
    *parents, leaf = path.split(".")
    for name in parents:
        child = target.get(name)
        child = {} if not isinstance(child, dict) else dict(child)
        target[name] = child
        target = child
    target[leaf] = value
