"""DMN decisions: reading them from Modeler files and evaluating them against process data."""

from __future__ import annotations

from retailflow.decisions.evaluator import DecisionEvaluator
from retailflow.decisions.model import (
    Aggregation,
    Decision,
    DecisionResult,
    DecisionTable,
    HitPolicy,
    Input,
    LiteralExpression,
    Output,
    Rule,
    RuleHits,
)
from retailflow.decisions.parser import parse_dmn

__all__ = [
    "Aggregation",
    "Decision",
    "DecisionEvaluator",
    "DecisionResult",
    "DecisionTable",
    "HitPolicy",
    "Input",
    "LiteralExpression",
    "Output",
    "Rule",
    "RuleHits",
    "parse_dmn",
]
