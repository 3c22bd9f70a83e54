"""FEEL under hostile or large input: every failure is an ExpressionError naming the expression,
no expression builds a value past the size limits, and list functions stay linear."""

from __future__ import annotations

from typing import Any

import pytest

from retailflow.expressions import Dialect, ExpressionEngine, feel_functions
from retailflow.model import ExpressionError


@pytest.fixture(scope="module")
def engine() -> ExpressionEngine:
    return ExpressionEngine(default_dialect=Dialect.FEEL)


def doubling(levels: int, seed: str, step: str) -> str:
    """``{v0: seed, v1: step(v0), v2: step(v1), ...}``: each entry doubles the value's size."""
    entries = [f"v0: {seed}"]
    entries += [f"v{i}: {step.format(p=f'v{i - 1}')}" for i in range(1, levels)]
    return "{" + ", ".join(entries) + "}"


@pytest.mark.parametrize(
    "text",
    [
        doubling(40, "[1, 1]", "{{x: {p}, y: {p}}}"),
        doubling(40, '"xxxxxxxxxx"', "[{p}, {p}]"),
        doubling(40, '"xxxxxxxxxx"', "{p} + {p}"),
        doubling(40, "[1]", "concatenate({p}, {p})"),
        doubling(40, "[1]", "append({p}, {p}, {p})"),
        doubling(40, "{a: 1}", 'context put(context put({{}}, "x", {p}), "y", {p})'),
        doubling(40, "{a: 1}", "context merge([{{x: {p}}}, {{y: {p}}}])"),
        doubling(30, '"ab"', 'string join([{p}, {p}, {p}, {p}], "")'),
        doubling(40, "[1]", "string({p}) + string({p})"),
        'replace("' + "a" * 100_000 + '", "a", "' + "b" * 200 + '")',
        "for i in 1..100000 return for j in 1..100 return j",
        "product(for i in 1..5000 return 99999999999)",
        "10 ** (10 ** 10)",
        "2 ** 100000 * 2 ** 100000",
    ],
    ids=lambda text: text[:60],
)
def test_value_bomb_fails_fast_with_an_expression_error_naming_it(
    engine: ExpressionEngine, text: str
) -> None:
    with pytest.raises(ExpressionError, match="refused") as raised:
        engine.evaluate(f"={text}", {}, element_id="Activity_0x8f7d2")
    assert raised.value.expression == f"={text}"
    assert raised.value.element_id == "Activity_0x8f7d2"


@pytest.mark.parametrize(
    "text",
    [
        "product(1.5 ** 1000, 1.5 ** 1000)",
        "sum([1.7976931348623157 ** 1, 10 ** 308 * 10.0])",
        "10.0 ** 400",
        "exp(1000)",
    ],
)
def test_a_number_past_what_a_variable_can_hold_is_null(
    engine: ExpressionEngine, text: str
) -> None:
    assert engine.evaluate(f"={text}", {}) is None


def test_a_value_shared_by_many_entries_is_fine_while_it_stays_small(
    engine: ExpressionEngine,
) -> None:
    built = engine.evaluate("=" + doubling(10, "[1, 1]", "{{x: {p}, y: {p}}}") + ".v9", {})
    assert built["x"]["y"]["x"] == built["y"]["x"]["y"]


def test_catastrophic_regular_expression_answers_at_once(engine: ExpressionEngine) -> None:
    # Python's re backtracks 2**5000 times on this; RE2 is linear
    text = '"' + "a" * 5000 + '!"'
    assert engine.evaluate(f'=matches({text}, "(a+)+$")', {}) is False
    assert engine.evaluate(f'=replace({text}, "(a|aa)+$", "")', {}) == "a" * 5000 + "!"


@pytest.mark.parametrize("pattern", ["(a)\\\\1", "a{1001}", "(?<=a)b", "["])
def test_a_pattern_re2_refuses_makes_the_function_null(
    engine: ExpressionEngine, pattern: str
) -> None:
    assert engine.evaluate(f'=matches("aab", "{pattern}")', {}) is None


def _counting_equal(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    original = feel_functions.equal

    def counted(a: Any, b: Any) -> bool:
        calls[0] += 1
        return original(a, b)

    monkeypatch.setattr(feel_functions, "equal", counted)
    return calls


@pytest.mark.parametrize(
    "items",
    [
        [{"sku": f"s{i % 1000}", "qty": i % 1000 % 7} for i in range(2000)],
        [[i % 500, "x"] for i in range(2000)],
    ],
    ids=["contexts", "lists"],
)
@pytest.mark.parametrize(
    "text", ["=distinct values(items)", "=union(items, items)", "=duplicate values(items)"]
)
def test_distinct_values_and_union_never_compare_items_pairwise(
    engine: ExpressionEngine, monkeypatch: pytest.MonkeyPatch, text: str, items: list[Any]
) -> None:
    calls = _counting_equal(monkeypatch)
    result = engine.evaluate(text, {"items": items})
    expected = []
    for item in items:
        if item not in expected:
            expected.append(item)
    assert result == expected
    assert calls[0] <= len(items)  # before: one comparison per pair, 2,000,000 here
