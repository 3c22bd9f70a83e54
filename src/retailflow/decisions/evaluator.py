"""Evaluating a DMN decision against process variables.

Required decisions (the DRD) are evaluated first and their results put in scope under the
required decision's id and name (Camunda 8), and, for a single result, its output names
(Camunda 7). Input expressions are evaluated once; each rule's input entries are unary tests
against those values; output entries of matching rules are evaluated; the hit policy combines.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from retailflow.decisions.hit_policies import Match, select
from retailflow.decisions.model import (
    Decision,
    DecisionResult,
    DecisionTable,
    HitPolicy,
    Output,
    RuleHits,
)
from retailflow.expressions import Dialect, ExpressionEngine, detect_dialect
from retailflow.expressions.feel_values import is_number
from retailflow.model import ExpressionError


def _convert(value: Any, type_ref: str | None, output: Output, rule_id: str) -> Any:
    """Output ``typeRef`` conversions a Modeler user expects ("10" for a number is 10)."""
    kind = (type_ref or "").lower()
    if value is None or not kind:
        return value
    # FEEL's string() and number(): loaded with the first conversion, not at import.
    from retailflow.expressions.feel_functions import BUILTINS

    if kind in ("number", "double", "integer", "long"):
        number = BUILTINS["number"](value) if type(value) is str else value
        if not is_number(number):
            raise ExpressionError(
                f"output '{output.name}' is declared {type_ref}, but the rule gives {value!r}",
                element_id=rule_id,
            )
        if type(number) is Decimal or kind == "double":
            number = float(number)
        if kind in ("integer", "long") and number == int(number):
            number = int(number)
        return number
    if kind == "string" and (is_number(value) or type(value) is bool):
        return BUILTINS["string"](value)
    if kind == "boolean" and type(value) is str and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


class DecisionEvaluator:
    """Evaluates decisions with the engine's ``ExpressionEngine`` (and its compiled cache)."""

    def __init__(self, expressions: ExpressionEngine) -> None:
        self.expressions = expressions

    def evaluate(
        self, decision: Decision, variables: Mapping[str, Any], decisions: Mapping[str, Decision]
    ) -> DecisionResult:
        """Evaluate ``decision``; ``decisions`` holds the decisions it may require, by id."""
        return self._evaluate(decision, variables, decisions, ())

    def _evaluate(
        self,
        decision: Decision,
        variables: Mapping[str, Any],
        decisions: Mapping[str, Decision],
        chain: tuple[str, ...],
    ) -> DecisionResult:
        if decision.id in chain:
            raise ExpressionError(
                f"decisions require each other in a cycle: {' -> '.join((*chain, decision.id))}",
                element_id=decision.id,
            )
        required: list[RuleHits] = []
        scope = self._required(decision, variables, decisions, (*chain, decision.id), required)
        if decision.literal is not None:
            literal = decision.literal
            dialect = detect_dialect(
                literal.expression, literal.expression_language or Dialect.FEEL
            )
            value = self.expressions.evaluate(
                literal.expression, scope, dialect=dialect, element_id=decision.id
            )
            output = Output(decision.id, literal.variable_name, type_ref=literal.type_ref)
            return DecisionResult(
                [{literal.variable_name: _convert(value, literal.type_ref, output, decision.id)}],
                [],
                decision.id,
                evaluated=(*required, RuleHits(decision.id)),
            )
        if decision.table is None:
            raise ExpressionError(
                "the decision has neither a table nor a literal expression", element_id=decision.id
            )
        outputs, rule_ids = self._table(decision.table, scope, decision.id)
        returns_list = decision.table.hit_policy.returns_list and decision.table.aggregation is None
        numbers = {rule.id: number for number, rule in enumerate(decision.table.rules, 1)}
        hits = RuleHits(decision.id, tuple(rule_ids), tuple(numbers[r] for r in rule_ids))
        return DecisionResult(
            outputs, rule_ids, decision.id, returns_list, evaluated=(*required, hits)
        )

    def _required(
        self,
        decision: Decision,
        variables: Mapping[str, Any],
        decisions: Mapping[str, Decision],
        chain: tuple[str, ...],
        evaluated: list[RuleHits],
    ) -> Mapping[str, Any]:
        """The scope ``decision`` sees: the variables plus its required decisions' results,
        whose rules hit are added to ``evaluated``."""
        if not decision.required_decisions:
            return variables
        results: dict[str, Any] = {}
        for required_id in decision.required_decisions:
            required = decisions.get(required_id)
            if required is None:
                raise ExpressionError(
                    f"required decision '{required_id}' is not deployed", element_id=decision.id
                )
            result = self._evaluate(required, variables, decisions, chain)
            evaluated.extend(result.evaluated)
            results[required.id] = result.value
            if required.name:
                results[required.name] = result.value
            if not result.returns_list and len(result.outputs) == 1:
                for name, value in result.outputs[0].items():
                    results.setdefault(name, value)
        return ChainMap(results, variables)

    def _table(
        self, table: DecisionTable, scope: Mapping[str, Any], decision_id: str
    ) -> tuple[list[dict[str, Any]], list[str]]:
        inputs = []
        for column in table.inputs:
            dialect = detect_dialect(column.expression, column.expression_language or Dialect.FEEL)
            value = self.expressions.evaluate(
                column.expression, scope, dialect=dialect, element_id=column.id
            )
            inputs.append((value, ChainMap({column.input_variable: value}, scope)))
        matches: list[Match] = []
        for rule in table.rules:
            if all(
                not entry
                or entry == "-"
                or self.expressions.unary_test(entry, value, entry_scope, element_id=rule.id)
                for entry, (value, entry_scope) in zip(rule.input_entries, inputs, strict=True)
            ):
                matches.append(
                    (
                        rule.id,
                        {
                            output.name: _convert(
                                self._output(entry, scope, rule.id),
                                output.type_ref,
                                output,
                                rule.id,
                            )
                            for output, entry in zip(
                                table.outputs, rule.output_entries, strict=True
                            )
                        },
                    )
                )
        ranked = table.hit_policy in (HitPolicy.PRIORITY, HitPolicy.OUTPUT_ORDER)
        priorities = {
            output.name: self.expressions.evaluate(
                f"[{output.output_values}]", {}, dialect=Dialect.FEEL, element_id=output.id
            )
            for output in table.outputs
            if ranked and output.output_values
        }
        return select(table, matches, priorities, decision_id)

    def _output(self, entry: str, scope: Mapping[str, Any], rule_id: str) -> Any:
        if not entry:
            return None
        return self.expressions.evaluate(
            entry, scope, dialect=detect_dialect(entry, Dialect.FEEL), element_id=rule_id
        )
