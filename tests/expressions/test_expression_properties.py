"""Properties: no text crashes the engine with anything but ExpressionError, and FEEL arithmetic
and comparison on integers agree with Python's."""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retailflow.expressions import Dialect, ExpressionEngine
from retailflow.model import ExpressionError

ENGINE = ExpressionEngine(script_timeout=0.2)
VARIABLES = {"a": 1, "b": "x", "l": [1, 2, 3], "c": {"d": None}}

FEEL_TOKENS = [
    "a",
    "b",
    "l",
    "c",
    "d",
    "item",
    "?",
    "1",
    "2.5",
    '"s"',
    "null",
    "true",
    "false",
    "+",
    "-",
    "*",
    "/",
    "**",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "and",
    "or",
    "not(",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    ".",
    "..",
    "if",
    "then",
    "else",
    "for",
    "in",
    "return",
    "some",
    "every",
    "satisfies",
    "between",
    "function(",
    "string length(",
    "sum(",
    "count(",
    "date(",
    "is defined(",
    "get value(",
    "@",
    "- ",
    # names with spaces, backtick names, named arguments and the regex/range/context built-ins
    "order total",
    "`a-b`",
    "list:",
    "start position:",
    "substring(",
    'matches("aa", ',
    'replace("ab", "(a)", "$1$1")',
    'split("a;b", ";")',
    "distinct values(",
    "union(",
    "before(",
    "includes(",
    "context put(",
    "string(",
    "[1..5]",
]
JUEL_TOKENS = [
    "${",
    "}",
    "a",
    "b",
    "l",
    "c",
    "d",
    "1",
    "'s'",
    "null",
    "true",
    "+",
    "-",
    "*",
    "/",
    "%",
    "==",
    "!=",
    "<",
    ">",
    "&&",
    "||",
    "!",
    "empty",
    "not",
    "and",
    "or",
    "eq",
    "lt",
    "?",
    ":",
    "(",
    ")",
    "[",
    "]",
    ".",
    "div",
    "mod",
]
PYTHON_TOKENS = [
    "a",
    "b",
    "l",
    "c",
    "1",
    "'s'",
    "None",
    "+",
    "-",
    "*",
    "**",
    "/",
    "%",
    "<<",
    "==",
    "<",
    "and",
    "or",
    "not",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    ".",
    "for",
    "in",
    "if",
    "else",
    "lambda",
    "len(",
    "sum(",
    "range(",
    "__class__",
    "_",
    "9",
    "f'{a}'",
]

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _only_expression_errors(action: Callable[[], Any]) -> None:
    with contextlib.suppress(ExpressionError):
        action()


def _token_text(tokens: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(tokens), max_size=12).map(" ".join)


@pytest.mark.parametrize("dialect", list(Dialect))
@PROPERTY_SETTINGS
@given(text=st.text(max_size=40))
def test_random_text_raises_nothing_but_expression_error(dialect: Dialect, text: str) -> None:
    _only_expression_errors(lambda: ENGINE.check(text, dialect=dialect))
    _only_expression_errors(lambda: ENGINE.evaluate(text, VARIABLES, dialect=dialect))


@pytest.mark.parametrize(
    ("dialect", "tokens"),
    [(Dialect.FEEL, FEEL_TOKENS), (Dialect.JUEL, JUEL_TOKENS), (Dialect.PYTHON, PYTHON_TOKENS)],
)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_random_token_soup_raises_nothing_but_expression_error(
    dialect: Dialect, tokens: list[str], data: st.DataObject
) -> None:
    text = data.draw(_token_text(tokens))
    _only_expression_errors(lambda: ENGINE.evaluate(text, VARIABLES, dialect=dialect))


@PROPERTY_SETTINGS
@given(text=_token_text(FEEL_TOKENS), value=st.one_of(st.none(), st.integers(), st.text()))
def test_random_unary_tests_raise_nothing_but_expression_error(text: str, value: Any) -> None:
    _only_expression_errors(lambda: ENGINE.unary_test(text, value, VARIABLES))


@PROPERTY_SETTINGS
@given(script=st.text(max_size=60))
def test_random_scripts_raise_nothing_but_expression_error(script: str) -> None:
    _only_expression_errors(lambda: ENGINE.run_script(script, dict(VARIABLES)))


ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul}
COMPARISON = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
INTS = st.integers(min_value=-(10**12), max_value=10**12)


@PROPERTY_SETTINGS
@given(x=INTS, y=INTS, op=st.sampled_from(sorted(ARITHMETIC)))
def test_feel_integer_arithmetic_agrees_with_python(x: int, y: int, op: str) -> None:
    assert ENGINE.evaluate(f"=x {op} y", {"x": x, "y": y}) == ARITHMETIC[op](x, y)


@PROPERTY_SETTINGS
@given(x=INTS, y=INTS, op=st.sampled_from(sorted(COMPARISON)))
def test_feel_integer_comparison_agrees_with_python(x: int, y: int, op: str) -> None:
    assert ENGINE.evaluate(f"=x {op} y", {"x": x, "y": y}) is COMPARISON[op](x, y)


@PROPERTY_SETTINGS
@given(x=INTS, y=INTS)
def test_feel_division_is_exact_or_null(x: int, y: int) -> None:
    result = ENGINE.evaluate("=x / y", {"x": x, "y": y})
    if y == 0:
        assert result is None
    elif x % y == 0:
        assert result == x // y and type(result) is int
    else:
        assert result == pytest.approx(x / y)


@PROPERTY_SETTINGS
@given(x=st.integers(-1000, 1000), y=st.integers(0, 20))
def test_feel_power_agrees_with_python(x: int, y: int) -> None:
    assert ENGINE.evaluate("=x ** y", {"x": x, "y": y}) == x**y


@PROPERTY_SETTINGS
@given(x=INTS, low=INTS, high=INTS)
def test_feel_between_and_ranges_agree_with_python(x: int, low: int, high: int) -> None:
    variables = {"x": x, "low": low, "high": high}
    inside = low <= x <= high
    assert ENGINE.evaluate("=x between low and high", variables) is inside
    assert ENGINE.evaluate("=x in [low..high]", variables) is inside
    assert ENGINE.unary_test("[low..high]", x, variables) is inside
    assert ENGINE.unary_test("(low..high)", x, variables) is (low < x < high)
