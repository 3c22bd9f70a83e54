"""FEEL (Camunda 8 ``=...``) expressions as Modeler users write them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from retailflow.expressions import Dialect, ExpressionEngine
from retailflow.model import ExpressionError

ORDER = {
    "amount": 150,
    "order": {
        "customer": {"tier": "gold", "name": "Ada"},
        "items": [{"sku": "tea", "qty": 2, "price": 4.5}, {"sku": "mug", "qty": 5, "price": 8}],
    },
    "scores": [1, 2, 3, 4, 5],
    "nothing": None,
}


@pytest.fixture(scope="module")
def engine() -> ExpressionEngine:
    return ExpressionEngine(default_dialect=Dialect.PYTHON)


def feel(engine: ExpressionEngine, text: str, variables: dict[str, Any] | None = None) -> Any:
    return engine.evaluate(f"={text}", ORDER if variables is None else variables)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amount > 100", True),
        ("amount <= 100", False),
        ("amount = 150", True),
        ("amount != 150", False),
        ("order.customer.tier", "gold"),
        ('order.customer.tier = "gold" and amount >= 100', True),
        ("null", None),
        ("true", True),
        ("false", False),
        ("42", 42),
        ("4.25", 4.25),
        ('"tea"', "tea"),
        ('"say \\"hi\\"\\n"', 'say "hi"\n'),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 ** 10", 1024),
        ("10 / 4", 2.5),
        ("10 / 5", 2),
        ("-amount + 1", -149),
        ('"new" + " " + "retail"', "new retail"),
        ('if amount > 100 then "big" else "small"', "big"),
        ("if nothing then 1 else 2", 2),
        ("not(amount > 100)", False),
        ("amount > 100 or nothing", True),
        ("amount between 100 and 200", True),
        ("amount between 151 and 200", False),
        ("amount in [150, 200]", True),
        ("amount in (100..150)", False),
        ("amount in (100..150]", True),
        ("amount in [1..10]", False),
        ("amount in > 100", True),
        ("[1, 2, 3]", [1, 2, 3]),
        ('{a: 1, "b c": 2}', {"a": 1, "b c": 2}),
        ("{a: 2, b: a * 3}.b", 6),
        ("scores[item > 3]", [4, 5]),
        ("scores[1]", 1),
        ("scores[-1]", 5),
        ("scores[9]", None),
        ("order.items[qty > 3].sku", ["mug"]),
        ("order.items.sku", ["tea", "mug"]),
        ("for x in scores return x * 2", [2, 4, 6, 8, 10]),
        ("for x in 1..3 return x", [1, 2, 3]),
        ("for x in [1, 2], y in [10, 20] return x + y", [11, 21, 12, 22]),
        ("some x in scores satisfies x > 4", True),
        ("every x in scores satisfies x > 4", False),
        ("sum(for i in order.items return i.qty * i.price)", 49.0),
        ("{double: function(x) x * 2, r: double(21)}.r", 42),
        ("// a comment\n amount /* and another */ > 1", True),
    ],
)
def test_feel_expression_evaluates_as_the_spec_says(
    engine: ExpressionEngine, text: str, expected: Any
) -> None:
    assert feel(engine, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unknown", None),
        ("unknown.deeper.path", None),
        ("nothing + 1", None),
        ("1 - nothing", None),
        ("nothing * 2", None),
        ("nothing / 2", None),
        ("2 ** nothing", None),
        ("-nothing", None),
        ("1 / 0", None),
        ('1 + "a"', None),
        ("nothing < 1", None),
        ('1 < "a"', None),
        ("nothing = null", True),
        ("1 = null", False),
        ("1 != null", True),
        ("true = 1", False),
        ("true and nothing", None),
        ("false and nothing", False),
        ("true or nothing", True),
        ("false or nothing", None),
        ("not(nothing)", None),
        ("nothing[1]", None),
        ("string length(nothing)", None),
        ("upper case(42)", None),
    ],
)
def test_null_propagates_instead_of_failing(
    engine: ExpressionEngine, text: str, expected: Any
) -> None:
    assert feel(engine, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('string length("retail")', 6),
        ('substring("foobar", 3)', "obar"),
        ('substring("foobar", 3, 2)', "ob"),
        ('substring("foobar", -2, 1)', "a"),
        ('substring before("foo-bar", "-")', "foo"),
        ('substring after("foo-bar", "-")', "bar"),
        ('upper case("tea")', "TEA"),
        ('lower case("TEA")', "tea"),
        ('contains("retail", "tai")', True),
        ('starts with("retail", "re")', True),
        ('ends with("retail", "il")', True),
        ('string join(["a", "b"], ", ")', "a, b"),
        ("string(12)", "12"),
        ("string(1.5)", "1.5"),
        ("string(true)", "true"),
        ('number("12")', 12),
        ('number("1.5")', 1.5),
        ("floor(1.5)", 1),
        ("ceiling(1.2)", 2),
        ("floor(-1.5)", -2),
        ("abs(-3)", 3),
        ("decimal(1.125, 2)", 1.12),
        ("round up(5.5, 0)", 6),
        ("round down(-5.5, 0)", -5),
        ("round half up(2.5, 0)", 3),
        ("round half down(2.5, 0)", 2),
        ("modulo(-7, 3)", 2),
        ("sqrt(16)", 4.0),
        ("odd(3)", True),
        ("even(3)", False),
        ("min([3, 1, 2])", 1),
        ("max(3, 1, 2)", 3),
        ("sum([1, 2, 3])", 6),
        ("mean([1, 2])", 1.5),
        ("median([3, 1, 2])", 2),
        ("product([2, 3])", 6),
        ("count(scores)", 5),
        ("list contains(scores, 3)", True),
        ("append([1], 2, 3)", [1, 2, 3]),
        ("concatenate([1], [2, 3])", [1, 2, 3]),
        ("distinct values([1, 1, 2, 1.0])", [1, 2]),
        ("union([1, 2], [2, 3])", [1, 2, 3]),
        ("sort([3, 1, 2])", [1, 2, 3]),
        ("sort([3, 1, 2], function(a, b) a > b)", [3, 2, 1]),
        ("index of([1, 2, 1], 1)", [1, 3]),
        ("flatten([[1], [2, [3]]])", [1, 2, 3]),
        ("reverse([1, 2, 3])", [3, 2, 1]),
        ("sublist([1, 2, 3], 2)", [2, 3]),
        ("sublist([1, 2, 3], 1, 2)", [1, 2]),
        ("insert before([1, 3], 2, 2)", [1, 2, 3]),
        ("remove([1, 2, 3], 2)", [1, 3]),
        ("all([true, true])", True),
        ("any([false, true])", True),
        ('date("2024-01-31")', date(2024, 1, 31)),
        ("date(2024, 1, 31)", date(2024, 1, 31)),
        ('date and time("2024-05-01T10:00:00Z")', datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ('duration("PT30M")', timedelta(minutes=30)),
        ('date("2024-01-31") + duration("P1D")', date(2024, 2, 1)),
        ('date and time("2024-05-01T10:00:00Z") < date and time("2024-05-02T00:00:00Z")', True),
        ('@"2024-01-31"', date(2024, 1, 31)),
        ('date("2024-01-31").month', 1),
        ('get value({a: 1}, "a")', 1),
        ("get entries({a: 1})", [{"key": "a", "value": 1}]),
        ("is defined(amount)", True),
        ("is defined(nothing)", False),
        ("is defined(missing)", False),
        ("is defined(order.customer.tier)", True),
        ("is defined(order.customer.age)", False),
        ('date("not a date")', None),
    ],
)
def test_builtin_functions(engine: ExpressionEngine, text: str, expected: Any) -> None:
    assert feel(engine, text) == expected


def test_now_and_today_are_utc(engine: ExpressionEngine) -> None:
    now = feel(engine, "now()")
    assert now.tzinfo is not None
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)
    assert feel(engine, "today()") == datetime.now(UTC).date()


def test_engine_functions_are_callable_from_feel() -> None:
    engine = ExpressionEngine(functions={"vat": lambda amount: amount * 0.2})
    assert engine.evaluate("=vat(amount)", {"amount": 100}) == 20.0


def test_failing_engine_function_names_itself() -> None:
    def broken(value: Any) -> Any:
        raise RuntimeError("stock service down")

    engine = ExpressionEngine(functions={"stock": broken})
    with pytest.raises(ExpressionError, match="function 'stock' failed: stock service down"):
        engine.evaluate("=stock(1)", {}, element_id="Gateway_1")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("=amount >", "ends too early"),
        ("=amount > > 1", "unexpected"),
        ("=amount ~ 1", "unexpected character"),
        ("=frobnicate(1)", "unknown FEEL function 'frobnicate'"),
        ("=string length(1, 2)", "does not take 2 argument"),
        ('=@"yesterday"', "not a date"),
    ],
)
def test_invalid_feel_is_reported_with_element_and_expression(
    engine: ExpressionEngine, text: str, reason: str
) -> None:
    with pytest.raises(ExpressionError, match=reason) as raised:
        engine.check(text, element_id="Flow_7")
    assert raised.value.element_id == "Flow_7"
    assert raised.value.expression == text
    assert "Flow_7" in str(raised.value)


@pytest.mark.parametrize(
    "text",
    [
        "2 ** 1000000",
        "for a in 1..999999, b in 1..999999 return 1",
        "for x in 1..10000000 return x",
    ],
)
def test_expressions_that_would_hang_are_refused(engine: ExpressionEngine, text: str) -> None:
    with pytest.raises(ExpressionError, match="refused"):
        feel(engine, text)


def test_deeply_nested_parentheses_still_evaluate(engine: ExpressionEngine) -> None:
    assert engine.evaluate("=" + "(" * 2000 + "1" + ")" * 2000, {}) == 1


def test_too_deeply_nested_expression_is_an_expression_error(engine: ExpressionEngine) -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        engine.check("=" + "[" * 5000 + "1" + "]" * 5000)
