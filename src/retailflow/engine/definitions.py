"""Deployed definitions made runnable: parsed, compiled and cached once per definition.

An instance always runs against the files its definition was deployed with, re-read from the
store by content hash; compiling them is the expensive part, so the result is cached for the
life of the engine (definitions never change once stored).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from retailflow.bpmn import BpmnDocument, DmnDocument, SourceFile, read_document
from retailflow.decisions import Decision, DecisionEvaluator, parse_dmn
from retailflow.engine.spiff import (
    CompiledProcess,
    RetailScriptEngine,
    SourceTree,
    compile_processes,
)
from retailflow.expressions import ExpressionEngine
from retailflow.model import ExpressionError, NotFoundError, ProcessDefinition
from retailflow.stores import Store


@dataclass(slots=True)
class LoadedDefinition:
    """A definition ready to run: compiled process, its decisions, and its script engine."""

    definition: ProcessDefinition
    compiled: CompiledProcess
    decisions: dict[str, Decision]
    script_engine: RetailScriptEngine


class DefinitionCache:
    """Compiles each stored definition on first use and keeps it."""

    def __init__(
        self,
        store: Store,
        expressions: ExpressionEngine,
        decisions: DecisionEvaluator,
        now: Callable[[], Any],
    ) -> None:
        self._store = store
        self._expressions = expressions
        self._decisions = decisions
        self._now = now
        self._loaded: dict[str, LoadedDefinition] = {}

    def get(self, definition_id: str) -> LoadedDefinition:
        """The runnable form of a stored definition."""
        loaded = self._loaded.get(definition_id)
        if loaded is None:
            loaded = self._load(self._store.get_definition(definition_id))
            self._loaded[definition_id] = loaded
        return loaded

    def _load(self, definition: ProcessDefinition) -> LoadedDefinition:
        documents = [
            read_document(_source(self._store, content_hash))
            for content_hash in definition.resource_hashes
        ]
        trees = [
            SourceTree(doc.name, doc.root) for doc in documents if isinstance(doc, BpmnDocument)
        ]
        compiled = compile_processes(trees, [definition.process_id])[definition.process_id]
        decisions = {
            decision.id: decision
            for doc in documents
            if isinstance(doc, DmnDocument)
            for decision in parse_dmn(doc.root, file=doc.name)
        }
        script_engine = RetailScriptEngine(self._expressions, self._now, self._decider(decisions))
        return LoadedDefinition(definition, compiled, decisions, script_engine)

    def _decider(self, decisions: Mapping[str, Decision]) -> Callable[..., Any]:
        def decide(
            decision_id: str,
            variables: Mapping[str, Any],
            map_result: str | None,
            element_id: str | None,
        ) -> Any:
            decision = decisions.get(decision_id)
            if decision is None:
                raise ExpressionError(
                    f"decision '{decision_id}' is not deployed with this process",
                    element_id=element_id,
                )
            result = self._decisions.evaluate(decision, variables, decisions)
            return shape_result(result, map_result), result.evaluated

        return decide


def shape_result(result: Any, map_result: str | None) -> Any:
    """Camunda 7's ``mapDecisionResult`` (``singleEntry``, ``singleResult``, ``collectEntries``,
    ``resultList``); Camunda 8 (``None``) gets the evaluator's natural shape."""
    outputs: list[dict[str, Any]] = result.outputs
    match map_result:
        case "singleEntry":
            return next(iter(outputs[0].values())) if outputs else None
        case "singleResult":
            return outputs[0] if outputs else None
        case "collectEntries":
            return [next(iter(row.values())) for row in outputs]
        case "resultList":
            return outputs
        case _:
            return result.value


def _source(store: Store, content_hash: str) -> SourceFile:
    try:
        resource = store.get_resource(content_hash)
    except NotFoundError as error:
        raise NotFoundError(
            f"deployed file {content_hash[:12]} is missing from the store"
        ) from error
    kind: Literal["bpmn", "dmn"] = "dmn" if resource.name.endswith(".dmn") else "bpmn"
    return SourceFile(resource.name, resource.content, resource.content_hash, kind)
