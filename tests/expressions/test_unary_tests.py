"""DMN input entries (FEEL unary tests) as Modeler writes them into decision table cells."""

from __future__ import annotations

from typing import Any

import pytest

from retailflow.expressions import ExpressionEngine
from retailflow.model import ExpressionError


@pytest.fixture(scope="module")
def engine() -> ExpressionEngine:
    return ExpressionEngine()


@pytest.mark.parametrize(
    ("test", "value", "expected"),
    [
        ("-", "anything", True),
        ("", "anything", True),
        ('"gold"', "gold", True),
        ('"gold"', "silver", False),
        ('"gold","silver"', "silver", True),
        ('"gold", "silver"', "bronze", False),
        ("< 100", 99, True),
        ("< 100", 100, False),
        ("<= 100", 100, True),
        (">= 5", 5, True),
        ("> 5", 5, False),
        ("[1..10]", 10, True),
        ("[1..10]", 11, False),
        ("(1..10]", 1, False),
        ("(1..10]", 10, True),
        ("[1..10)", 10, False),
        ("(1..10)", 5, True),
        ('not("gold")', "silver", True),
        ('not("gold")', "gold", False),
        ('not("gold", "silver")', "silver", False),
        ("not(< 10)", 12, True),
        ("null", None, True),
        ("null", 1, False),
        ("true", True, True),
        ("true", False, False),
        ("false", False, True),
        ("? > 3", 4, True),
        ("? > 3", 2, False),
        ("string length(?) > 3", "gold", True),
        ("limit", 500, True),
        ("limit * 2", 1000, True),
        ("< limit", 499, True),
        ("[1, 2, 3]", 2, True),
        ("< 100", None, False),
        ("< 100", "text", False),
        ('date("2024-01-01")', __import__("datetime").date(2024, 1, 1), True),
    ],
)
def test_input_entry_matches_as_camunda_does(
    engine: ExpressionEngine, test: str, value: Any, expected: bool
) -> None:
    assert engine.unary_test(test, value, {"limit": 500}) is expected


def test_camunda_7_juel_input_entry_sees_the_input_variable(engine: ExpressionEngine) -> None:
    assert engine.unary_test("${cellInput > 3}", 5, {"cellInput": 5}) is True
    assert engine.unary_test("${cellInput > 3}", 1, {"cellInput": 1}) is False


def test_broken_input_entry_names_the_rule(engine: ExpressionEngine) -> None:
    with pytest.raises(ExpressionError, match="DecisionRule_3") as raised:
        engine.unary_test("< < 3", 1, {}, element_id="DecisionRule_3")
    assert raised.value.expression == "< < 3"


def test_input_entries_can_be_checked_before_evaluation(engine: ExpressionEngine) -> None:
    engine.check_unary_tests('"a", "b"')
    with pytest.raises(ExpressionError):
        engine.check_unary_tests('"a" "b"')
