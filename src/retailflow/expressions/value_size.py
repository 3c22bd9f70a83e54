"""How large a value is once written out: the estimate the sandbox checks before it renders,
repeats or hands back a value.

``[[0] * 10**6] * 10**6`` costs 16 MB to build, because the outer list holds a million references
to one inner list, but ``str()`` of it needs 3 * 10**12 characters and a walk over it visits
10**12 items. ``estimated_size`` counts a value the way printing or storing it would (characters,
with every shared part counted each place it appears) while visiting each distinct container
only once, so the estimate of that list costs two million steps, not 10**12, and stops as soon as
the count passes the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from retailflow.expressions.limits import MAX_VALUE_DEPTH, MAX_VALUE_SIZE
from retailflow.model import ExpressionError

_SEPARATOR = 2
"""``", "`` between items (and ``": "`` between a key and its value)."""


def _decimal_size(value: Decimal) -> int:
    # Fixed-point formatting (f'{d:f}', int(d)) writes the exponent out: 1e999999 is 10**6 digits.
    return abs(value.adjusted()) + 30 if value.is_finite() else 10


_SCALAR_SIZES: dict[type, Callable[[Any], int]] = {
    type(None): lambda _: 4,
    bool: lambda _: 5,
    int: lambda value: value.bit_length() // 3 + 2,
    float: lambda _: 24,
    str: lambda value: len(value) + 2,
    bytes: lambda value: len(value) + 3,
    Decimal: _decimal_size,
    date: lambda _: 40,
    datetime: lambda _: 40,
    time: lambda _: 40,
    timedelta: lambda _: 40,
}
"""Characters a scalar takes when printed (at most, roughly)."""

SCALAR_TYPES = frozenset(_SCALAR_SIZES)
"""Types of values that are never containers: each is bounded where it is built (integers by
``MAX_INT_BITS``, text by ``MAX_TEXT``), so a finished result of one needs no sizing."""

_UNIFORM_SIZES: dict[type, Callable[[Any], int]] = {
    type(None): lambda items: 4 * len(items),
    bool: lambda items: 5 * len(items),
    int: lambda items: sum(map(int.bit_length, items)) // 3 + 2 * len(items),
    float: lambda items: 24 * len(items),
    str: lambda items: sum(map(len, items)) + 2 * len(items),
}
"""The same as ``_SCALAR_SIZES`` for a whole collection of one such type, at C speed: a list of
a million numbers is sized in milliseconds, so repeating or sorting it stays cheap."""

_FLAT_CONTAINERS = frozenset({list, tuple, set, frozenset})

_OPAQUE_SIZE = 80
"""Anything else (a function, a range, a generator) prints as a short ``<...>`` description."""


class _TooLarge(Exception):
    """The running count passed the limit: stop walking."""


def _uniform_size(items: Any) -> int | None:
    """The size of a list, tuple or set of one scalar type (``_UNIFORM_SIZES``), else None."""
    if isinstance(items, dict):
        return None
    kinds = set(map(type, items))
    uniform = _UNIFORM_SIZES.get(kinds.pop()) if len(kinds) == 1 else None
    return None if uniform is None else 2 + uniform(items) + _SEPARATOR * len(items)


def estimated_size(value: Any, limit: int = MAX_VALUE_SIZE) -> int:
    """About how many characters ``repr(value)`` would take; any count above ``limit`` (or
    nesting deeper than ``MAX_VALUE_DEPTH``) comes back as ``limit + 1`` without walking on."""
    scalar = _SCALAR_SIZES.get(type(value))
    if scalar is not None:  # the common cases, without setting up the walk
        return min(scalar(value), limit + 1)
    if type(value) in _FLAT_CONTAINERS:
        total = _uniform_size(value)
        if total is not None:
            return min(total, limit + 1)
    sizes: dict[int, int] = {}

    def size(item: Any, depth: int) -> int:
        scalar = _SCALAR_SIZES.get(type(item))
        if scalar is not None:
            return scalar(item)
        if isinstance(item, date | time | timedelta):  # datetime and other subclasses
            return 40
        if not isinstance(item, list | tuple | set | frozenset | dict):
            return _OPAQUE_SIZE
        known = sizes.get(id(item))
        if known is not None:
            return known
        if depth >= MAX_VALUE_DEPTH:
            raise _TooLarge
        total = _uniform_size(item)
        if total is not None:
            sizes[id(item)] = total
            if total > limit:
                raise _TooLarge
            return total
        sizes[id(item)] = 8  # a cycle prints as [...]
        total = 2
        parts = (part for pair in item.items() for part in pair) if isinstance(item, dict) else item
        for part in parts:
            total += _SEPARATOR + size(part, depth + 1)
            if total > limit:
                raise _TooLarge
        sizes[id(item)] = total
        return total

    try:
        total = size(value, 0)
    except _TooLarge:
        return limit + 1
    return total if total <= limit else limit + 1


def refuse_oversized(value: Any, what: str, limit: int = MAX_VALUE_SIZE) -> None:
    """Raise ``ExpressionError`` if ``value`` would print larger than ``limit`` characters."""
    if estimated_size(value, limit) > limit:
        raise ExpressionError(
            f"{what} would be larger than the sandbox's limit of {limit} characters "
            f"(or nested deeper than {MAX_VALUE_DEPTH} levels); refused"
        )
