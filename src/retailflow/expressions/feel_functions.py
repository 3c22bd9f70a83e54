"""FEEL's built-in functions: those Camunda 8's FEEL engine (feel-scala) documents.

Each takes already-evaluated arguments and returns null (``None``) for arguments of the wrong
kind, as FEEL does; the compiler additionally turns any ``TypeError``/``ValueError`` raised here
into null. Names are the FEEL names, spaces included; each ``Builtin`` also carries its FEEL
parameter names, so calls with named arguments (``substring(string: s, start position: 2)``)
work. The regular-expression functions live in ``feel_regex``; ranges in ``feel_ranges``.
"""

from __future__ import annotations

import base64
import calendar
import functools
import inspect
import math
import random
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
)
from statistics import median as _median
from statistics import stdev
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import isodate

from retailflow.expressions import feel_ranges, feel_regex
from retailflow.expressions.feel_budget import check_items, check_text
from retailflow.expressions.feel_values import equal, identity, is_number
from retailflow.expressions.limits import MAX_INT_BITS
from retailflow.model import ExpressionError


def _bounded(items: list[Any]) -> list[Any]:
    """Lists built by joining lists could double per context entry; cap them like loops."""
    check_items(len(items))
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
    text = _literal(value, quoted=False)
    check_text(len(text))
    return text


def _literal(value: Any, *, quoted: bool) -> str:
    """How FEEL writes a value: ``string([1, "a"])`` is ``[1, "a"]``, ``string({a: 1})``
    is ``{a:1}``. Every part is checked against the text limit as it is written."""
    if value is None:
        return "null"
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' if quoted else value
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta | isodate.Duration):
        return str(isodate.duration_isoformat(value))
    if type(value) is float and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + _joined(_literal(item, quoted=True) for item in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{"
            + _joined(f"{key}:{_literal(item, quoted=True)}" for key, item in value.items())
            + "}"
        )
    return str(value)


def _joined(parts: Any) -> str:
    written: list[str] = []
    length = 0
    for part in parts:
        length += len(part) + 2
        check_text(length)
        written.append(part)
    return ", ".join(written)


def _number(text: Any, grouping: Any = None, decimal_separator: Any = None) -> Any:
    if is_number(text):
        return text
    if type(text) is not str:
        return None
    if grouping is not None or decimal_separator is not None:
        if grouping not in (None, " ", ",", ".") or decimal_separator not in (None, ",", "."):
            return None
        if grouping is not None and grouping == decimal_separator:
            return None
        if grouping is not None:
            text = text.replace(grouping, "")
        if decimal_separator is not None:
            text = text.replace(decimal_separator, ".")
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


def _string_join(items: Any, delimiter: Any = "", prefix: Any = "", suffix: Any = "") -> str | None:
    delimiter, prefix, suffix = (
        "" if part is None else part for part in (delimiter, prefix, suffix)
    )
    if not isinstance(items, list) or not all(
        type(part) is str for part in (delimiter, prefix, suffix)
    ):
        return None
    parts = [item for item in items if item is not None]
    if not all(type(part) is str for part in parts):
        return None
    check_text(sum(map(len, parts)) + len(delimiter) * len(parts) + len(prefix) + len(suffix))
    return f"{prefix}{delimiter.join(parts)}{suffix}"


def _trim(text: Any) -> str | None:
    return text.strip() if _text(text) is not None else None


def _to_base64(text: Any) -> str | None:
    if _text(text) is None:
        return None
    check_text(len(text) * 4 // 3 + 4)
    return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii")


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
    if not items:
        return None
    product: Any = 1
    for item in items:
        product *= item
        if type(product) is int and product.bit_length() > MAX_INT_BITS:
            raise ExpressionError(f"the product has more than {MAX_INT_BITS} bits; refused")
        if type(product) is float and not math.isfinite(product):
            return None
    return product


def _stddev(*args: Any) -> Any:
    items = _numbers(args)
    return None if not items or len(items) < 2 else stdev(items)


def _mode(*args: Any) -> Any:
    items = _numbers(args)
    if items is None:
        return None
    counts = Counter(identity(item) for item in items)
    if not counts:
        return []
    most = max(counts.values())
    return sorted({key for key, count in counts.items() if count == most})


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
    seen: set[Any] = set()
    distinct: list[Any] = []
    for item in items:
        key = identity(item)
        if key not in seen:
            seen.add(key)
            distinct.append(item)
    return distinct


def _duplicate_values(items: Any) -> list[Any] | None:
    if not isinstance(items, list):
        return None
    counts = Counter(identity(item) for item in items)
    reported: set[Any] = set()
    duplicates: list[Any] = []
    for item in items:
        key = identity(item)
        if counts[key] > 1 and key not in reported:
            reported.add(key)
            duplicates.append(item)
    return duplicates


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
        flat.extend(_flatten(item) or [] if isinstance(item, list) else [item])
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
        if isinstance(value, datetime) and type(at) is str:
            return _in_zone(value, at)
        if isinstance(value, date) and isinstance(at, time):
            return datetime.combine(value if not isinstance(value, datetime) else value.date(), at)
        return None
    if isinstance(value, datetime):
        return value
    if type(value) is not str:
        return None
    return parse_date_and_time(value)


def parse_date_and_time(text: str) -> datetime:
    """``2024-05-01T10:00:00Z``, ``...+02:00``, ``...@Europe/Berlin``, or a bare date."""
    if "T" not in text:
        return datetime.combine(date.fromisoformat(text), time())
    local, _, zone = text.partition("@")
    moment = datetime.fromisoformat(local.replace("Z", "+00:00"))
    if zone:
        try:
            return moment.replace(tzinfo=ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {zone!r}") from exc
    return moment


def _in_zone(moment: datetime, zone: str) -> datetime | None:
    """The same instant seen in ``zone`` (``Z``, ``+02:00`` or an IANA name)."""
    try:
        target = UTC if zone == "Z" else ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        try:
            offset = datetime.fromisoformat("2000-01-01T00:00:00" + zone).utcoffset()
        except ValueError:
            return None
        target = timezone(offset) if offset is not None else UTC
    if moment.tzinfo is None:
        return moment.replace(tzinfo=target)
    return moment.astimezone(target)


def _time(value: Any, minute: Any = None, second: Any = None, offset: Any = None) -> time | None:
    if minute is not None:
        if not all(is_number(part) for part in (value, minute, second)):
            return None
        zone = timezone(offset) if isinstance(offset, timedelta) else None
        whole = int(second)
        micros = round((second - whole) * 1_000_000)
        return time(int(value), int(minute), whole, micros, tzinfo=zone)
    if isinstance(value, datetime):
        return value.timetz()
    if isinstance(value, time):
        return value
    return time.fromisoformat(value.replace("Z", "+00:00")) if type(value) is str else None


def _years_and_months(start: Any, end: Any) -> Any:
    if not (isinstance(start, date) and isinstance(end, date)):
        return None
    months = (end.year - start.year) * 12 + end.month - start.month
    if months > 0 and end.day < start.day:
        months -= 1
    elif months < 0 and end.day > start.day:
        months += 1
    return isodate.Duration(years=int(months / 12), months=months - int(months / 12) * 12)


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def _calendar(function: Callable[[date], Any]) -> Callable[[Any], Any]:
    def applied(day: Any) -> Any:
        return function(day) if isinstance(day, date) else None

    return applied


def _last_day_of_month(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


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
    if not isinstance(context, Mapping):
        return None
    if type(key) is str:
        return context.get(key)
    if not isinstance(key, list) or not key:
        return None
    value: Any = context
    for part in key:
        if not isinstance(value, Mapping) or type(part) is not str:
            return None
        value = value.get(part)
    return value


def _context_put(context: Any, key: Any, value: Any) -> dict[str, Any] | None:
    if not isinstance(context, Mapping):
        return None
    keys = [key] if type(key) is str else key
    if not isinstance(keys, list) or not keys or not all(type(part) is str for part in keys):
        return None
    first, *rest = keys
    inner = context.get(first)
    return {
        **context,
        first: _context_put(inner if isinstance(inner, Mapping) else {}, rest, value)
        if rest
        else value,
    }


def _context_merge(contexts: Any) -> dict[str, Any] | None:
    if not isinstance(contexts, list) or not all(isinstance(c, Mapping) for c in contexts):
        return None
    merged: dict[str, Any] = {}
    for context in contexts:
        merged.update(context)
    return merged


def _put_all(*contexts: Any) -> dict[str, Any] | None:
    return _context_merge(list(contexts)) if contexts else None


def _context(entries: Any) -> dict[str, Any] | None:
    if not isinstance(entries, list):
        return None
    built: dict[str, Any] = {}
    for entry in entries:
        if (
            not isinstance(entry, Mapping)
            or type(entry.get("key")) is not str
            or ("value" not in entry)
        ):
            return None
        built[entry["key"]] = entry["value"]
    return built


def _get_or_else(value: Any, default: Any) -> Any:
    return default if value is None else value


def _assert(value: Any, condition: Any, cause: Any = None) -> Any:
    if condition is not True:
        raise ExpressionError(
            f"assertion failed: {cause}" if type(cause) is str else "assertion failed"
        )
    return value


def _is_empty(items: Any) -> bool | None:
    return len(items) == 0 if isinstance(items, list) else None


def _partition(items: Any, size: Any) -> list[list[Any]] | None:
    count = _integral(size)
    if not isinstance(items, list) or count is None or count <= 0:
        return None
    return [items[at : at + count] for at in range(0, len(items), count)]


def _log(n: Any) -> Any:
    return math.log(n) if is_number(n) and n > 0 else None


def _exp(n: Any) -> Any:
    return math.exp(n) if is_number(n) else None


def _get_entries(context: Any) -> list[dict[str, Any]] | None:
    if not isinstance(context, Mapping):
        return None
    return [{"key": key, "value": value} for key, value in context.items()]


_ROUNDING_MODES = {
    "up": ROUND_UP,
    "down": ROUND_DOWN,
    "ceiling": ROUND_CEILING,
    "floor": ROUND_FLOOR,
    "half_up": ROUND_HALF_UP,
    "half_down": ROUND_HALF_DOWN,
    "half_even": ROUND_HALF_EVEN,
}


def _decimal(n: Any, scale: Any, mode: Any = "half_even") -> Any:
    if type(mode) is not str:
        return None
    if mode.lower() == "unnecessary":
        rounded = _rounding(ROUND_HALF_EVEN)(n, scale)
        return rounded if rounded == n else None
    rounding = _ROUNDING_MODES.get(mode.lower())
    return None if rounding is None else _rounding(rounding)(n, scale)


def _floor(n: Any, scale: Any = 0) -> Any:
    return _rounding(ROUND_FLOOR)(n, scale)


def _ceiling(n: Any, scale: Any = 0) -> Any:
    return _rounding(ROUND_CEILING)(n, scale)


def _abs(n: Any) -> Any:
    if isinstance(n, isodate.Duration):
        return (
            -n
            if n.years < 0
            or n.months < 0
            or (not n.years and not n.months and n.tdelta < timedelta())
            else n
        )
    return abs(n) if is_number(n) or isinstance(n, timedelta) else None


def _reverse(items: list[Any]) -> list[Any]:
    return items[::-1]


class Builtin:
    """A built-in function with its FEEL parameter names, one tuple per documented signature.

    Called positionally it is the plain function; ``bind`` maps named arguments onto the
    positions of the signature that has all the names given.
    """

    __slots__ = ("__signature__", "function", "signatures")

    def __init__(self, function: Callable[..., Any], *signatures: str) -> None:
        self.function = function
        self.signatures = tuple(
            tuple(name.strip() for name in signature.split(",") if name.strip())
            for signature in signatures
        )
        self.__signature__ = inspect.signature(function)

    def __call__(self, *args: Any) -> Any:
        return self.function(*args)

    def bind(self, named: Mapping[str, Any]) -> list[Any] | None:
        """Positional arguments for ``named``; None when no signature takes those names."""
        defaults = [
            parameter.default
            for parameter in self.__signature__.parameters.values()
            if parameter.kind is parameter.POSITIONAL_OR_KEYWORD
        ]
        for names in self.signatures:
            if not set(named) <= set(names):
                continue
            last = max(names.index(name) for name in named) if named else -1
            arguments: list[Any] = []
            for position, name in enumerate(names[: last + 1]):
                if name in named:
                    arguments.append(named[name])
                elif position < len(defaults) and defaults[position] is not inspect.Parameter.empty:
                    arguments.append(defaults[position])
                else:
                    arguments.append(None)
            return arguments
        return None


_B = Builtin

BUILTINS: dict[str, Builtin] = {
    # conversion
    "date": _B(_date, "from", "year, month, day"),
    "date and time": _B(_date_and_time, "from", "date, time", "date, timezone"),
    "time": _B(_time, "from", "hour, minute, second, offset"),
    "duration": _B(_duration, "from"),
    "years and months duration": _B(_years_and_months, "from, to"),
    "number": _B(_number, "from, grouping separator, decimal separator"),
    "string": _B(_string, "from"),
    "context": _B(_context, "entries"),
    # boolean
    "not": _B(_not, "negand"),
    # a missing variable or entry is null, so since Camunda 8.3 this is "is not null"
    "is defined": _B(lambda value: value is not None, "value"),
    "get or else": _B(_get_or_else, "value, default"),
    "assert": _B(_assert, "value, condition, cause"),
    # strings
    "substring": _B(_substring, "string, start position, length"),
    "string length": _B(
        lambda string: len(string) if _text(string) is not None else None, "string"
    ),
    "upper case": _B(
        lambda string: string.upper() if _text(string) is not None else None, "string"
    ),
    "lower case": _B(
        lambda string: string.lower() if _text(string) is not None else None, "string"
    ),
    "substring before": _B(_substring_before, "string, match"),
    "substring after": _B(_substring_after, "string, match"),
    "contains": _B(
        lambda string, match: (
            match in string if _text(string) is not None and _text(match) is not None else None
        ),
        "string, match",
    ),
    "starts with": _B(
        lambda string, match: (
            string.startswith(match)
            if _text(string) is not None and _text(match) is not None
            else None
        ),
        "string, match",
    ),
    "ends with": _B(
        lambda string, match: (
            string.endswith(match)
            if _text(string) is not None and _text(match) is not None
            else None
        ),
        "string, match",
    ),
    "trim": _B(_trim, "string"),
    "uuid": _B(lambda: str(uuid.uuid4())),
    "to base64": _B(_to_base64, "value"),
    # numbers
    "decimal": _B(_decimal, "n, scale, mode"),
    "floor": _B(_floor, "n, scale"),
    "ceiling": _B(_ceiling, "n, scale"),
    "round up": _B(_round_away_from_zero, "n, scale"),
    "round down": _B(_round_toward_zero, "n, scale"),
    "round half up": _B(_rounding(ROUND_HALF_UP), "n, scale"),
    "round half down": _B(_rounding(ROUND_HALF_DOWN), "n, scale"),
    "abs": _B(_abs, "n", "number"),
    "modulo": _B(_modulo, "dividend, divisor"),
    "sqrt": _B(_sqrt, "number"),
    "log": _B(_log, "number"),
    "exp": _B(_exp, "number"),
    "odd": _B(_parity(1), "number"),
    "even": _B(_parity(0), "number"),
    "random number": _B(lambda: random.random()),
    # lists
    "list contains": _B(_list_contains, "list, element"),
    "count": _B(_count, "list"),
    "min": _B(_min, "list"),
    "max": _B(_max, "list"),
    "sum": _B(_sum, "list"),
    "product": _B(_product, "list"),
    "mean": _B(_mean, "list"),
    "median": _B(_median_of, "list"),
    "stddev": _B(_stddev, "list"),
    "mode": _B(_mode, "list"),
    "all": _B(_all, "list"),
    "any": _B(_any, "list"),
    "sublist": _B(_sublist, "list, start position, length"),
    "append": _B(_append, "list, items"),
    "concatenate": _B(_concatenate, "lists"),
    "insert before": _B(_insert_before, "list, position, newItem"),
    "remove": _B(_remove, "list, position"),
    "reverse": _B(_list_op(_reverse), "list"),
    "index of": _B(_index_of, "list, match"),
    "union": _B(_union, "lists"),
    "distinct values": _B(_distinct_values, "list"),
    "duplicate values": _B(_duplicate_values, "list"),
    "flatten": _B(_flatten, "list"),
    "sort": _B(_sort, "list, precedes"),
    "string join": _B(_string_join, "list, delimiter, prefix, suffix"),
    "is empty": _B(_is_empty, "list"),
    "partition": _B(_partition, "list, size"),
    # contexts
    "get value": _B(_get_value, "context, key", "context, keys"),
    "get entries": _B(_get_entries, "context"),
    "context put": _B(_context_put, "context, key, value", "context, keys, value"),
    "put": _B(_context_put, "context, key, value"),
    "context merge": _B(_context_merge, "contexts"),
    "put all": _B(_put_all, "contexts"),
    # temporal
    "now": _B(_now),
    "today": _B(_today),
    "day of week": _B(_calendar(lambda day: _DAYS[day.weekday()]), "date"),
    "day of year": _B(_calendar(lambda day: day.timetuple().tm_yday), "date"),
    "week of year": _B(_calendar(lambda day: day.isocalendar()[1]), "date"),
    "month of year": _B(_calendar(lambda day: _MONTHS[day.month - 1]), "date"),
    "last day of month": _B(_calendar(_last_day_of_month), "date"),
    # regular expressions
    "matches": _B(feel_regex.matches, "input, pattern, flags"),
    "replace": _B(feel_regex.replace, "input, pattern, replacement, flags"),
    "split": _B(feel_regex.split, "string, delimiter"),
    "extract": _B(feel_regex.extract, "string, pattern"),
    # ranges: each takes points or ranges
    **{
        name: _B(function, "point1, point2", "range, point", "point, range", "range1, range2")
        for name, function in {
            "before": feel_ranges.before,
            "after": feel_ranges.after,
            "meets": feel_ranges.meets,
            "met by": feel_ranges.met_by,
            "overlaps": feel_ranges.overlaps,
            "overlaps before": feel_ranges.overlaps_before,
            "overlaps after": feel_ranges.overlaps_after,
            "finishes": feel_ranges.finishes,
            "finished by": feel_ranges.finished_by,
            "includes": feel_ranges.includes,
            "during": feel_ranges.during,
            "starts": feel_ranges.starts,
            "started by": feel_ranges.started_by,
            "coincides": feel_ranges.coincides,
        }.items()
    },
}
"""Every built-in by its FEEL name."""
