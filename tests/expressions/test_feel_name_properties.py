"""Properties of FEEL parsing added for Camunda 8 files: names with spaces, named arguments,
and the equality key that keeps ``distinct values`` linear."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from retailflow.expressions import Dialect, ExpressionEngine
from retailflow.expressions.feel_functions import BUILTINS
from retailflow.expressions.feel_values import equal, identity
from retailflow.model import ExpressionError

ENGINE = ExpressionEngine(default_dialect=Dialect.FEEL)

KEYWORDS = {
    "and", "or", "in", "if", "then", "else", "for", "return", "some", "every", "satisfies",
    "between", "function", "true", "false", "null", "not",
}  # fmt: skip

word = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,7}", fullmatch=True).filter(
    lambda text: text not in KEYWORDS
)
spaced_name = st.lists(word, min_size=1, max_size=4).map(" ".join)
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.text(max_size=5),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)


@settings(max_examples=200, deadline=None)
@given(name=spaced_name, value=st.integers(-1000, 1000))
def test_a_variable_with_spaces_in_its_name_reads_as_written(name: str, value: int) -> None:
    assert ENGINE.evaluate(f"={name}", {name: value}) == value
    assert ENGINE.evaluate(f"={name} + 1", {name: value}) == value + 1
    assert ENGINE.evaluate(f"=wrapper.{name}", {"wrapper": {name: value}}) == value


@settings(max_examples=200, deadline=None)
@given(name=spaced_name, value=st.integers(-1000, 1000))
def test_a_context_key_with_spaces_is_a_name_for_later_entries(name: str, value: int) -> None:
    built = ENGINE.evaluate(f"={{{name}: {value}, twice: {name} * 2}}", {})
    assert built == {name: value, "twice": value * 2}


@settings(max_examples=100, deadline=None)
@given(name=spaced_name, extra_spaces=st.integers(1, 3))
def test_extra_blanks_between_the_words_of_a_name_do_not_matter(
    name: str, extra_spaces: int
) -> None:
    written = (" " * extra_spaces).join(name.split(" "))
    assert ENGINE.evaluate(f"={written}", {name: 7}) == 7


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet="abcxyz", max_size=10),
    start=st.integers(-12, 12).filter(bool),
    length=st.integers(0, 12),
)
def test_named_arguments_mean_what_positional_ones_do(text: str, start: int, length: int) -> None:
    variables = {"s": text}
    positional = ENGINE.evaluate(f"=substring(s, {start}, {length})", variables)
    named = ENGINE.evaluate(
        f"=substring(length: {length}, string: s, start position: {start})", variables
    )
    assert named == positional


values = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=8,
)


@settings(max_examples=500, deadline=None)
@given(a=values, b=values)
def test_two_values_share_an_equality_key_exactly_when_feel_says_they_are_equal(
    a: Any, b: Any
) -> None:
    assert (identity(a) == identity(b)) == equal(a, b)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(values, max_size=12))
def test_distinct_values_keeps_the_first_of_each_group_of_equal_items(items: list[Any]) -> None:
    expected: list[Any] = []
    for item in items:
        if not any(equal(item, kept) for kept in expected):
            expected.append(item)
    result = ENGINE.evaluate("=distinct values(items)", {"items": items})
    assert len(result) == len(expected)
    assert all(equal(a, b) for a, b in zip(result, expected, strict=True))


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(min_size=1, max_size=12).filter(lambda text: "`" not in text and text.strip()),
    value=st.integers(-1000, 1000),
)
def test_any_name_between_backticks_reads_the_variable_of_that_name(name: str, value: int) -> None:
    assert ENGINE.evaluate(f"=`{name}` + 0", {name: value}) == value
    assert ENGINE.evaluate(f"=wrapper.`{name}`", {"wrapper": {name: value}}) == value


ARGUMENT_LITERALS = [
    "null", "0", "-1", "2.5", "100000", '"a;b"', '""', '"(a+)+$"', "true", "[1, 2]", "[]",
    "[[1], [2, [3]]]", '{a: 1, "b c": [2]}', "{}", 'date("2024-01-31")', 'time("10:00:00")',
    'date and time("2024-01-01T10:00:00Z")', 'duration("P1D")', 'duration("-P1Y2M")',
    "[1..5]", "(1..5)", "function(x, y) x < y", '["a", null]', '[{key: "k", value: 1}]',
]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(
    name=st.sampled_from(sorted(BUILTINS)),
    arguments=st.lists(st.sampled_from(ARGUMENT_LITERALS), max_size=4),
)
def test_any_builtin_with_any_arguments_answers_a_value_null_or_a_feel_error(
    name: str, arguments: list[str]
) -> None:
    """No argument makes a built-in fail with a raw Python error (which the engine would report
    as "evaluation failed: TypeError ..."): FEEL answers null, or refuses in its own words."""
    text = f"={name}({', '.join(arguments)})"
    try:
        ENGINE.evaluate(text, {})
    except ExpressionError as error:
        assert "evaluation failed" not in str(error), text
