"""FEEL's built-in functions, the common ones Camunda Modeler users write.

Each takes already-evaluated arguments and returns null (``None``) for arguments of the wrong
kind, as FEEL does; the compiler additionally turns any ``TypeError``/``ValueError`` raised here
into null. Names are the FEEL names, spaces included.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Decimal,
)
from statistics import median as _median
from typing import Any

import isodate

from retailflow.expressions.feel_values import equal, is_number
from retailflow.expressions.limits import MAX_ITEMS, MAX_TEXT
from retailflow.model import ExpressionError

FeelFunction = Callable[..., Any]


def _bounded(items: list[Any]) -> list[Any]:
    """Lists built by joining lists could double per context entry; cap them like loops."""
    if len(items) > MAX_ITEMS:
        raise ExpressionError(f"a list of more than {MAX_ITEMS} items is refused")
    return items


def _text(value: Any) -> str | None:
    return value if type(value) is str else None


def _numbers(args: tuple[Any, ...]) -> list[Any] | None:
    """``min([1, 2])`` and ``min(1, 2)`` are both FEEL; null if any item is not a number."""
    items = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
    return items if all(is_number(item) for item in items) else None


def _integral(value: Any) -> int | None:
    if type(value) is int:
        return value
    if is_number(value) and value == int(value):
        return int(value)
    return None


def _plain(value: Decimal) -> int | float:
    """Back from Decimal rounding to JSON-friendly numbers."""
    return int(value) if value == value.to_integral_value() else float(value)


def _rounding(mode: str) -> Callable[[Any, Any], Any]:
    def rounded(n: Any, scale: Any = 0) -> Any:
        if not is_number(n) or _integral(scale) is None:
            return None
        exponent = Decimal(1).scaleb(-int(scale))
        return _plain(Decimal(str(n)).quantize(exponent, rounding=mode))

    return rounded


def _round_toward_zero(n: Any, scale: Any = 0) -> Any:
    return (_rounding(ROUND_FLOOR) if is_number(n) and n >= 0 else _rounding(ROUND_CEILING))(
        n, scale
    )


def _round_away_from_zero(n: Any, scale: Any = 0) -> Any:
    return (_rounding(ROUND_CEILING) if is_number(n) and n >= 0 else _rounding(ROUND_FLOOR))(
        n, scale
    )


def _string(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is bool:
        return "true" if value else "false"
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return isodate.duration_isoformat(value)
    if type(value) is float and value.is_integer():
        return str(int(value))
    return str(value)


def _number(text: Any) -> Any:
    if is_number(text):
        return text
    if type(text) is not str:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _substring(text: Any, start: Any, length: Any = None) -> str | None:
    start = _integral(start)
    if _text(text) is None or start is None or start == 0:
        return None
    begin = start - 1 if start > 0 else len(text) + start
    if length is None:
        return text[max(begin, 0) :]
    count = _integral(length)
    return None if count is None or count < 0 else text[max(begin, 0) : max(begin, 0) + count]


def _substring_before(text: Any, match: Any) -> str | None:
    if _text(text) is None or _text(match) is None:
        return None
    return text.partition(match)[0] if match in text else ""


def _substring_after(text: Any, match: Any) -> str | None:
    if _text(text) is None or _text(match) is None:
        return None
    return text.partition(match)[2] if match in text else ""


def _string_join(items: Any, delimiter: Any = "") -> str | None:
    if not isinstance(items, list) or _text(delimiter) is None:
        return None
    parts = [item for item in items if item is not None]
    if not all(type(part) is str for part in parts):
        return None
    if sum(map(len, parts)) + len(delimiter) * len(parts) > MAX_TEXT:
        raise ExpressionError(f"a string of more than {MAX_TEXT} characters is refused")
    return delimiter.join(parts)


def _list_op(function: Callable[[list[Any]], Any]) -> Callable[[Any], Any]:
    def applied(items: Any) -> Any:
        return function(items) if isinstance(items, list) else None

    return applied


def _min(*args: Any) -> Any:
    items = _comparables(args)
    return min(items) if items else None


def _max(*args: Any) -> Any:
    items = _comparables(args)
    return max(items) if items else None


def _comparables(args: tuple[Any, ...]) -> list[Any] | None:
    items = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
    if _numbers(tuple(items)) is not None:
        return items
    kinds = {type(item) for item in items}
    return items if len(kinds) == 1 and kinds <= {str, date, datetime, time, timedelta} else None


def _sum(*args: Any) -> Any:
    items = _numbers(args)
    return None if items is None else sum(items, 0)


def _mean(*args: Any) -> Any:
    items = _numbers(args)
    if not items:
        return None
    total = sum(items, 0)
    return (
        total // len(items)
        if type(total) is int and total % len(items) == 0
        else total / len(items)
    )


def _product(*args: Any) -> Any:
    items = _numbers(args)
    return None if not items else math.prod(items)


def _median_of(*args: Any) -> Any:
    items = _numbers(args)
    return None if not items else _median(items)


def _count(items: Any) -> int | None:
    return len(items) if isinstance(items, list) else None


def _modulo(dividend: Any, divisor: Any) -> Any:
    if not (is_number(dividend) and is_number(divisor)) or not divisor:
        return None
    return dividend % divisor


def _sqrt(n: Any) -> Any:
    return math.sqrt(n) if is_number(n) and n >= 0 else None


def _parity(remainder: int) -> Callable[[Any], bool | None]:
    def parity(n: Any) -> bool | None:
        value = _integral(n)
        return None if value is None else value % 2 == remainder

    return parity


def _list_contains(items: Any, element: Any) -> bool | None:
    if not isinstance(items, list):
        return None
    return any(equal(item, element) for item in items)


def _append(items: Any, *extra: Any) -> list[Any] | None:
    return _bounded([*items, *extra]) if isinstance(items, list) else None


def _concatenate(*lists: Any) -> list[Any] | None:
    if not all(isinstance(items, list) for items in lists):
        return None
    return _bounded([item for items in lists for item in items])


def _distinct_values(items: Any) -> list[Any] | None:
    if not isinstance(items, list):
        return None
    distinct: list[Any] = []
    seen: set[tuple[str, Any]] = set()
    unhashable: list[Any] = []
    for item in items:
        key = _identity(item)
        if key is None:
            if not any(equal(item, other) for other in unhashable):
                unhashable.append(item)
                distinct.append(item)
        elif key not in seen:
            seen.add(key)
            distinct.append(item)
    return distinct


def _identity(item: Any) -> tuple[str, Any] | None:
    """A hashable key that is equal exactly when FEEL says two items are equal, so
    ``distinct values`` stays linear; None for lists and contexts (compared one by one)."""
    if is_number(item):
        return "number", item
    if isinstance(item, datetime):
        return "date and time", item.replace(tzinfo=UTC) if item.tzinfo is None else item
    if isinstance(item, list | Mapping):
        return None
    return type(item).__name__, item


def _union(*lists: Any) -> list[Any] | None:
    joined = _concatenate(*lists)
    return None if joined is None else _distinct_values(joined)


def _sort(items: Any, precedes: Any = None) -> list[Any] | None:
    if not isinstance(items, list):
        return None
    if precedes is None:
        ordered = _comparables(tuple(items))
        return None if ordered is None else sorted(items)
    if not callable(precedes):
        return None

    def compare(a: Any, b: Any) -> int:
        if precedes(a, b) is True:
            return -1
        return 1 if precedes(b, a) is True else 0

    return sorted(items, key=functools.cmp_to_key(compare))


def _index_of(items: Any, match: Any) -> list[int] | None:
    if not isinstance(items, list):
        return None
    return [position for position, item in enumerate(items, 1) if equal(item, match)]


def _flatten(items: Any) -> list[Any] | None:
    if not isinstance(items, list):
        return None
    flat: list[Any] = []
    for item in items:
        flat.extend(_flatten(item) if isinstance(item, list) else [item])
    return _bounded(flat)


def _sublist(items: Any, start: Any, length: Any = None) -> list[Any] | None:
    start = _integral(start)
    if not isinstance(items, list) or start is None or start == 0:
        return None
    begin = start - 1 if start > 0 else len(items) + start
    if length is None:
        return items[max(begin, 0) :]
    count = _integral(length)
    return None if count is None or count < 0 else items[max(begin, 0) : max(begin, 0) + count]


def _insert_before(items: Any, position: Any, item: Any) -> list[Any] | None:
    index = _integral(position)
    if not isinstance(items, list) or index is None or index == 0:
        return None
    at = index - 1 if index > 0 else len(items) + index
    return [*items[:at], item, *items[at:]]


def _remove(items: Any, position: Any) -> list[Any] | None:
    index = _integral(position)
    if not isinstance(items, list) or index is None or index == 0 or abs(index) > len(items):
        return None
    at = index - 1 if index > 0 else len(items) + index
    return [*items[:at], *items[at + 1 :]]


def _all(*args: Any) -> bool | None:
    items = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
    if any(item is False for item in items):
        return False
    return True if all(item is True for item in items) else None


def _any(*args: Any) -> bool | None:
    items = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
    if any(item is True for item in items):
        return True
    return False if all(item is False for item in items) else None


def _date(value: Any, month: Any = None, day: Any = None) -> date | None:
    if month is not None:
        return date(value, month, day) if all(type(v) is int for v in (value, month, day)) else None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value) if type(value) is str else None


def _date_and_time(value: Any, at: Any = None) -> datetime | None:
    if at is not None:
        if isinstance(value, date) and isinstance(at, time):
            return datetime.combine(value if not isinstance(value, datetime) else value.date(), at)
        return None
    if isinstance(value, datetime):
        return value
    if type(value) is not str:
        return None
    return (
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        if "T" in value
        else datetime.combine(date.fromisoformat(value), time())
    )


def _time(value: Any) -> time | None:
    if isinstance(value, datetime):
        return value.timetz()
    if isinstance(value, time):
        return value
    return time.fromisoformat(value.replace("Z", "+00:00")) if type(value) is str else None


def _duration(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    return isodate.parse_duration(value) if type(value) is str else None


def _now() -> datetime:
    return datetime.now(UTC)


def _today() -> date:
    return datetime.now(UTC).date()


def _not(value: Any) -> bool | None:
    return (not value) if type(value) is bool else None


def _get_value(context: Any, key: Any) -> Any:
    return context.get(key) if isinstance(context, Mapping) and type(key) is str else None


def _get_entries(context: Any) -> list[dict[str, Any]] | None:
    if not isinstance(context, Mapping):
        return None
    return [{"key": key, "value": value} for key, value in context.items()]


def _decimal(n: Any, scale: Any) -> Any:
    return _rounding(ROUND_HALF_EVEN)(n, scale)


def _floor(n: Any, scale: Any = 0) -> Any:
    return _rounding(ROUND_FLOOR)(n, scale)


def _ceiling(n: Any, scale: Any = 0) -> Any:
    return _rounding(ROUND_CEILING)(n, scale)


def _abs(n: Any) -> Any:
    return abs(n) if is_number(n) or isinstance(n, timedelta) else None


def _reverse(items: list[Any]) -> list[Any]:
    return items[::-1]


BUILTINS: dict[str, FeelFunction] = {
    # strings
    "string length": lambda text: len(text) if _text(text) is not None else None,
    "substring": _substring,
    "substring before": _substring_before,
    "substring after": _substring_after,
    "upper case": lambda text: text.upper() if _text(text) is not None else None,
    "lower case": lambda text: text.lower() if _text(text) is not None else None,
    "contains": lambda text, match: (
        match in text if _text(text) is not None and _text(match) is not None else None
    ),
    "starts with": lambda text, match: (
        text.startswith(match) if _text(text) is not None and _text(match) is not None else None
    ),
    "ends with": lambda text, match: (
        text.endswith(match) if _text(text) is not None and _text(match) is not None else None
    ),
    "string join": _string_join,
    "string": _string,
    # numbers
    "number": _number,
    "floor": _floor,
    "ceiling": _ceiling,
    "abs": _abs,
    "decimal": _decimal,
    "round up": _round_away_from_zero,
    "round down": _round_toward_zero,
    "round half up": _rounding(ROUND_HALF_UP),
    "round half down": _rounding(ROUND_HALF_DOWN),
    "modulo": _modulo,
    "sqrt": _sqrt,
    "odd": _parity(1),
    "even": _parity(0),
    "min": _min,
    "max": _max,
    "sum": _sum,
    "mean": _mean,
    "median": _median_of,
    "product": _product,
    "count": _count,
    # lists
    "list contains": _list_contains,
    "append": _append,
    "concatenate": _concatenate,
    "distinct values": _distinct_values,
    "union": _union,
    "sort": _sort,
    "index of": _index_of,
    "flatten": _flatten,
    "reverse": _list_op(_reverse),
    "sublist": _sublist,
    "insert before": _insert_before,
    "remove": _remove,
    "all": _all,
    "any": _any,
    # dates, times and durations
    "date": _date,
    "date and time": _date_and_time,
    "time": _time,
    "duration": _duration,
    "now": _now,
    "today": _today,
    # logic and contexts
    "not": _not,
    "get value": _get_value,
    "get entries": _get_entries,
}
"""Every built-in by its FEEL name; ``is defined`` is compiled specially (it sees a name)."""
