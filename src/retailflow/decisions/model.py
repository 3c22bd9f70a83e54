"""DMN decisions as plain frozen data: what ``parse_dmn`` reads and ``DecisionEvaluator`` runs.

Entries are kept as the texts the analyst wrote; the expression engine compiles (and caches)
them on first use, so a parsed decision is cheap to keep and to compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from retailflow.expressions import Dialect


class HitPolicy(StrEnum):
    """How a decision table combines the rules that match (DMN 1.3, 8.2.8)."""

    UNIQUE = "UNIQUE"
    FIRST = "FIRST"
    PRIORITY = "PRIORITY"
    ANY = "ANY"
    COLLECT = "COLLECT"
    RULE_ORDER = "RULE ORDER"
    OUTPUT_ORDER = "OUTPUT ORDER"

    @property
    def returns_list(self) -> bool:
        """Whether the decision's result is a list of all matches rather than one match."""
        return self in (HitPolicy.COLLECT, HitPolicy.RULE_ORDER, HitPolicy.OUTPUT_ORDER)


class Aggregation(StrEnum):
    """What a ``COLLECT`` table computes over its matches instead of listing them."""

    SUM = "SUM"
    MIN = "MIN"
    MAX = "MAX"
    COUNT = "COUNT"


@dataclass(frozen=True, slots=True)
class Input:
    """A table column the rules test: ``expression`` is evaluated once per evaluation."""

    id: str
    expression: str
    label: str | None = None
    type_ref: str | None = None
    expression_language: Dialect | None = None
    input_variable: str = "cellInput"
    """The name Camunda 7 entries use for the input value (``camunda:inputVariable``)."""


@dataclass(frozen=True, slots=True)
class Output:
    """A table column the rules set; ``output_values`` is the priority list, as written."""

    id: str
    name: str
    label: str | None = None
    type_ref: str | None = None
    output_values: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """One row: unary tests per input, expressions per output (empty text is null)."""

    id: str
    input_entries: tuple[str, ...]
    output_entries: tuple[str, ...]
    description: str | None = None


@dataclass(frozen=True, slots=True)
class DecisionTable:
    """A decision table's columns, rows and how their matches combine."""

    hit_policy: HitPolicy
    aggregation: Aggregation | None
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class LiteralExpression:
    """A decision whose logic is one expression, its value stored under ``variable_name``."""

    expression: str
    variable_name: str
    type_ref: str | None = None
    expression_language: Dialect | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """A DMN decision: a table or a literal expression, and the decisions whose results it uses
    (their values are visible to it by decision id and name)."""

    id: str
    name: str | None
    table: DecisionTable | None
    required_decisions: tuple[str, ...] = ()
    literal: LiteralExpression | None = None
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class RuleHits:
    """The rules of one decision that produced its result in one evaluation: what history
    records and DMN coverage counts. ``rule_numbers`` are 1-based table rows, as Modeler shows
    them (rule ids are generated and unreadable); a literal expression has no rules."""

    decision_id: str
    rule_ids: tuple[str, ...] = ()
    rule_numbers: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DecisionResult:
    """What a decision produced: one dict of output values per matched rule.

    ``value`` gives Camunda's result shape: a single output of a single-result decision is
    just the value; several outputs are a dict; list hit policies give a list (of values or
    dicts); no match is None (or an empty list). ``evaluated`` lists the rules hit by every
    decision evaluated for this result: required decisions first, this one last.
    """

    outputs: list[dict[str, Any]]
    matched_rules: list[str]
    decision_id: str
    returns_list: bool = field(default=False)
    evaluated: tuple[RuleHits, ...] = ()

    @property
    def value(self) -> Any:
        """The result as a process variable, shaped as Camunda shapes it."""
        rows = [next(iter(row.values())) if len(row) == 1 else dict(row) for row in self.outputs]
        if self.returns_list:
            return rows
        return rows[0] if rows else None
