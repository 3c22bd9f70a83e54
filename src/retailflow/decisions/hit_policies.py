"""How a decision table turns its matching rules into a result (DMN 1.3, 8.2.8).

Kept apart from rule matching so each policy reads as the specification states it: UNIQUE
fails on overlap, ANY fails on disagreement, PRIORITY and OUTPUT ORDER rank by the order of each
output's listed values, COLLECT may aggregate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from retailflow.decisions.model import Aggregation, DecisionTable, HitPolicy
from retailflow.expressions.feel_values import equal, is_number
from retailflow.model import ExpressionError

Match = tuple[str, dict[str, Any]]
"""A matched rule: its id and its output values by output name."""


def _rank(outputs: dict[str, Any], priorities: Mapping[str, list[Any]]) -> tuple[int, ...]:
    """Position of each output value in its priority list; unlisted values rank last."""
    ranks = []
    for name, order in priorities.items():
        value = outputs.get(name)
        ranks.append(
            next((index for index, listed in enumerate(order) if equal(listed, value)), len(order))
        )
    return tuple(ranks)


def _aggregate(aggregation: Aggregation, matches: Sequence[Match], decision_id: str) -> Any:
    values = [value for _, outputs in matches for value in outputs.values() if value is not None]
    if aggregation is Aggregation.COUNT:
        return len(values)
    if not values:
        return None
    if aggregation is Aggregation.SUM:
        if not all(is_number(value) for value in values):
            raise ExpressionError("COLLECT SUM needs numeric outputs", element_id=decision_id)
        return sum(values)
    try:
        return min(values) if aggregation is Aggregation.MIN else max(values)
    except TypeError:
        raise ExpressionError(
            f"COLLECT {aggregation} needs outputs of one comparable kind", element_id=decision_id
        ) from None


def select(
    table: DecisionTable,
    matches: list[Match],
    priorities: Mapping[str, list[Any]],
    decision_id: str,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The result rows and the ids of the rules that produced them."""
    rule_ids = [rule_id for rule_id, _ in matches]
    policy = table.hit_policy
    if policy is HitPolicy.UNIQUE and len(matches) > 1:
        raise ExpressionError(
            f"hit policy UNIQUE allows one matching rule, but rules "
            f"{', '.join(rule_ids)} all match",
            element_id=decision_id,
        )
    if policy is HitPolicy.ANY and any(
        not equal(outputs, matches[0][1]) for _, outputs in matches[1:]
    ):
        raise ExpressionError(
            f"hit policy ANY needs matching rules to agree, but rules "
            f"{', '.join(rule_ids)} give different outputs",
            element_id=decision_id,
        )
    if policy in (HitPolicy.PRIORITY, HitPolicy.OUTPUT_ORDER):
        matches = sorted(matches, key=lambda match: _rank(match[1], priorities))
    if policy in (HitPolicy.FIRST, HitPolicy.ANY, HitPolicy.PRIORITY):
        matches = matches[:1]
    if policy is HitPolicy.COLLECT and table.aggregation is not None:
        name = table.outputs[0].name
        return [{name: _aggregate(table.aggregation, matches, decision_id)}], rule_ids
    return [outputs for _, outputs in matches], [rule_id for rule_id, _ in matches]
