"""Camunda 7 ``${...}`` expressions (JUEL) in conditions and mappings."""

from __future__ import annotations

from typing import Any

import pytest

from retailflow.expressions import Dialect, ExpressionEngine
from retailflow.model import ExpressionError

VARIABLES = {
    "amount": 150,
    "approved": False,
    "order": {"total": 99.5, "lines": [{"sku": "tea"}], "customer": {"tier": "gold"}},
    "items": [],
    "key": "total",
    "nothing": None,
    "count": "7",
}


@pytest.fixture(scope="module")
def engine() -> ExpressionEngine:
    return ExpressionEngine()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${amount > 100}", True),
        ("${amount gt 100}", True),
        ("${amount >= 150 && !approved}", True),
        ("${amount ge 150 and not approved}", True),
        ("${amount < 100 || approved}", False),
        ("${amount lt 100 or approved}", False),
        ("${amount <= 150}", True),
        ("${amount le 149}", False),
        ("${amount == 150}", True),
        ("${amount eq 150}", True),
        ("${amount != 150}", False),
        ("${amount ne 150}", False),
        ("${order.total}", 99.5),
        ("${order.customer.tier == 'gold'}", True),
        ('${order.customer.tier == "gold"}', True),
        ("${order[key]}", 99.5),
        ("${order.lines[0].sku}", "tea"),
        ("${order.lines[5]}", None),
        ("${order.missing}", None),
        ("${nothing.anything}", None),
        ("${empty items}", True),
        ("${empty order}", False),
        ("${empty nothing}", True),
        ("${not empty order.lines}", True),
        ("${amount + 10 * 2}", 170),
        ("${(amount + 10) * 2}", 320),
        ("${amount - 50}", 100),
        ("${amount / 4}", 37.5),
        ("${amount div 3}", 50.0),
        ("${7 % 3}", 1),
        ("${-7 mod 3}", -1),
        ("${-amount}", -150),
        ("${count + 1}", 8),
        ("${count == 7}", True),
        ("${nothing + 1}", 1),
        ("${amount > 100 ? 'big' : 'small'}", "big"),
        ("${approved ? 1 : 2}", 2),
        ("${'it\\'s'}", "it's"),
        ("#{amount > 1}", True),
        ("${true}", True),
        ("${null}", None),
        ("${1.5e2 == amount}", True),
    ],
)
def test_juel_expression_evaluates_like_camunda_7(
    engine: ExpressionEngine, text: str, expected: Any
) -> None:
    assert engine.evaluate(text, VARIABLES) == expected


def test_bare_juel_text_is_an_expression_when_the_dialect_is_juel(engine: ExpressionEngine) -> None:
    assert engine.evaluate("amount > 100", VARIABLES, dialect=Dialect.JUEL) is True


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("${order.getTotal()}", "method and function calls are not allowed"),
        ("${execution.getVariable('x')}", "method and function calls are not allowed"),
        ("${amount >}", "unexpected '}'"),
        ("${amount >", "ends too early"),
        ("${amount ~ 1}", "unexpected character"),
    ],
)
def test_juel_refusals_are_clear(engine: ExpressionEngine, text: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match=reason):
        engine.check(text, element_id="Flow_2")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("${unknown > 1}", "cannot resolve identifier 'unknown'"),
        ("${amount / 0}", "division by zero"),
        ("${'abc' + 1}", "as a number"),
        ("${amount.value}", "only maps and lists have properties"),
    ],
)
def test_juel_failures_name_the_cause(engine: ExpressionEngine, text: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match=reason) as raised:
        engine.evaluate(text, VARIABLES, element_id="Flow_2")
    assert raised.value.element_id == "Flow_2"
