"""The size estimate the sandbox checks before rendering, repeating or returning a value."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from retailflow.expressions.value_size import estimated_size

_PRINTABLE = st.text(alphabet=string.ascii_letters + string.digits + " -_.", max_size=20)
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | _PRINTABLE
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_PRINTABLE, inner, max_size=5),
    max_leaves=30,
)


@given(_VALUES)
def test_the_estimate_is_never_below_the_printed_length(value: Any) -> None:
    assert estimated_size(value) >= len(repr(value))


def test_shared_parts_count_at_every_place_but_are_walked_once() -> None:
    row = [0] * 1000
    grid = [row] * 1000
    assert estimated_size(grid) >= len(repr(row)) * 1000
    assert estimated_size([[grid] * 1000] * 1000, limit=10**9) == 10**9 + 1


def test_a_cycle_or_deep_nesting_does_not_recurse_forever() -> None:
    cycle: list[Any] = [1]
    cycle.append(cycle)
    assert estimated_size(cycle) < 100
    deep: list[Any] = []
    for _ in range(10_000):
        deep = [deep]
    assert estimated_size(deep, limit=1000) == 1001
