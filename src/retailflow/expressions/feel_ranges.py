"""FEEL's range functions (``before``, ``overlaps``, ``includes`` ...), DMN 1.3 table 78.

Each takes points or ranges; a point is treated as the closed range ``[p..p]``, which gives
exactly the spec's point formulas. A comparison FEEL cannot make (a number against a date, an
open end) makes the whole answer null.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from retailflow.expressions.feel_values import Range, equal, less


class _Incomparable(Exception):
    """Two ends do not compare; the function answers null."""


def _lt(a: Any, b: Any) -> bool:
    result = less(a, b)
    if result is None:
        raise _Incomparable
    return result


def _gt(a: Any, b: Any) -> bool:
    return _lt(b, a)


def _eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        raise _Incomparable
    return equal(a, b)


def _as_range(value: Any) -> Range:
    return value if isinstance(value, Range) else Range(value, value, True, True)


def _relation(
    test: Callable[[Range, Range], bool],
) -> Callable[[Any, Any], bool | None]:
    def related(first: Any, second: Any) -> bool | None:
        if first is None or second is None:
            return None
        try:
            return test(_as_range(first), _as_range(second))
        except _Incomparable:
            return None

    return related


def _before(a: Range, b: Range) -> bool:
    return _lt(a.end, b.start) or (
        _eq(a.end, b.start) and not (a.end_included and b.start_included)
    )


def _meets(a: Range, b: Range) -> bool:
    return a.end_included and b.start_included and _eq(a.end, b.start)


def _overlaps(a: Range, b: Range) -> bool:
    return (
        _gt(a.end, b.start) or (_eq(a.end, b.start) and a.end_included and b.start_included)
    ) and (_lt(a.start, b.end) or (_eq(a.start, b.end) and a.start_included and b.end_included))


def _overlaps_before(a: Range, b: Range) -> bool:
    return (
        (
            _lt(a.start, b.start)
            or (_eq(a.start, b.start) and a.start_included and not b.start_included)
        )
        and (_gt(a.end, b.start) or (_eq(a.end, b.start) and a.end_included and b.start_included))
        and (_lt(a.end, b.end) or (_eq(a.end, b.end) and (not a.end_included or b.end_included)))
    )


def _finishes(a: Range, b: Range) -> bool:
    return (
        a.end_included == b.end_included
        and _eq(a.end, b.end)
        and (
            _gt(a.start, b.start)
            or (_eq(a.start, b.start) and (not a.start_included or b.start_included))
        )
    )


def _includes(a: Range, b: Range) -> bool:
    return (
        _lt(a.start, b.start)
        or (_eq(a.start, b.start) and (a.start_included or not b.start_included))
    ) and (_gt(a.end, b.end) or (_eq(a.end, b.end) and (a.end_included or not b.end_included)))


def _starts(a: Range, b: Range) -> bool:
    return (
        a.start_included == b.start_included
        and _eq(a.start, b.start)
        and (_lt(a.end, b.end) or (_eq(a.end, b.end) and (not a.end_included or b.end_included)))
    )


def _coincides(a: Range, b: Range) -> bool:
    return (
        _eq(a.start, b.start)
        and _eq(a.end, b.end)
        and a.start_included == b.start_included
        and a.end_included == b.end_included
    )


def _swapped(test: Callable[[Range, Range], bool]) -> Callable[[Range, Range], bool]:
    return lambda a, b: test(b, a)


before = _relation(_before)
after = _relation(_swapped(_before))
meets = _relation(_meets)
met_by = _relation(_swapped(_meets))
overlaps = _relation(_overlaps)
overlaps_before = _relation(_overlaps_before)
overlaps_after = _relation(_swapped(_overlaps_before))
finishes = _relation(_finishes)
finished_by = _relation(_swapped(_finishes))
includes = _relation(_includes)
during = _relation(_swapped(_includes))
starts = _relation(_starts)
started_by = _relation(_swapped(_starts))
coincides = _relation(_coincides)
