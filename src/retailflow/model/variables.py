"""The variable type system: what a process variable may hold, and its one JSON encoding.

A variable is read back exactly as it was written (same value, same type) from memory, SQLite
and PostgreSQL, from a live run and from a run reloaded by a fresh engine, because every place
that keeps variables goes through this module: the API's check, the instance state (the seam's
serializer), the stores' variable and history columns, and the CLI's JSON output.

The types (docs/api.md, "Variable types"), each with how it is stored:

================================  ===============================================================
``None``, ``bool``, ``str``       JSON null, true/false, string (valid Unicode: no lone
                                  surrogates)
``int``                           a JSON number within 64 bits, else ``{"$int": "<digits>"}``;
                                  at most ``MAX_INT_BITS`` bits
``float``                         a JSON number; finite only (JSON and FEEL have no inf/NaN)
``list``                          a JSON array (a tuple or set is refused: use a list)
``dict`` with ``str`` keys        a JSON object; one whose only key starts with ``$`` is
                                  wrapped as ``{"$map": {...}}`` so it never reads as a tag
``datetime.date``                 ``{"$date": "2026-12-08"}``
``datetime.time``                 ``{"$time": "09:30:00"}``, naive or with a fixed UTC offset
``datetime.datetime``             ``{"$datetime": "2026-12-08T09:30:00+01:00"}``; timezone-aware
                                  only (``datetime.timezone`` or ``zoneinfo.ZoneInfo``, the zone
                                  kept as ``...+01:00[Europe/Berlin]``). A naive date-time is
                                  refused: it means a different moment on every machine
``datetime.timedelta``            ``{"$duration": "P1DT2H0.5S"}`` (FEEL days-time duration)
``isodate.Duration``              ``{"$period": "P1Y2M"}`` (FEEL years-months duration)
``decimal.Decimal``               ``{"$decimal": "12.50"}``; finite only, digits kept
================================  ===============================================================

Every walk is bounded before it can hang or exhaust the stack: at most ``MAX_DEPTH`` levels of
lists and dicts, ``MAX_VALUES`` values in all (a list referred to a thousand times counts a
thousand times, so ``[[[0]*1000]*1000]*1000`` is refused after a million steps, not walked to
10^9), ``MAX_TEXT`` characters of text, and no cycles. Anything else is refused with
``VariableTypeError`` naming the variable's path (``order.items[3].price``) and what to store
instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import isodate  # type: ignore[import-untyped]

from retailflow.model.errors import VariableTypeError

MAX_DEPTH = 64
"""Most levels of lists and dicts inside one another in one variable."""

MAX_VALUES = 1_000_000
"""Most values (each reference counted) in the variables of one check or write."""

MAX_TEXT = 10_000_000
"""Most characters of text (strings, keys, decimals) in the variables of one check or write."""

MAX_INT_BITS = 100_000
"""Largest integer a variable may hold (about 30,000 digits); expressions build none larger."""

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_MAP = "$map"
_DURATION = re.compile(r"(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.(\d{6}))?S)?)?")
_PERIOD = re.compile(r"(-)?P(-?\d+)Y(-?\d+)M")
_MICROS_PER_SECOND = 1_000_000
_MICROS_PER_DAY = 86_400 * _MICROS_PER_SECOND


def check_variables(variables: Mapping[str, Any], where: str) -> None:
    """Refuse variables that are not all of the variable type system, within its limits.

    ``where`` says what was writing them (``start of 'order_fulfilment'``); it leads the
    message of the ``VariableTypeError``."""
    encode_variables(variables, where)


def encode_variables(
    variables: Mapping[str, Any], where: str, other: Callable[[Any], Any] | None = None
) -> dict[str, Any]:
    """The variables as JSON-ready data (tags for the non-JSON types), checked on the way.

    ``other`` stores what is not a variable type (the engine's own bookkeeping objects beside
    the variables in instance state) as it returns; without it such a value is refused."""
    if not isinstance(variables, Mapping):
        raise VariableTypeError(
            f"{where}: variables are a mapping of names to values, got {type(variables).__name__}",
            path="",
        )
    walk = _Walk(other)
    encoded: dict[str, Any] = {}
    for name, value in variables.items():
        if type(name) is not str:
            raise VariableTypeError(
                f"{where}: variable names must be text, got {name!r}", path=repr(name)
            )
        try:
            walk.text(name)
            encoded[name] = walk.encode(value, 1)
        except _Refused as refused:
            refused.segments.append(name)
            path = _path(refused.segments)
            raise VariableTypeError(
                f"{where}: variable '{path}' {refused.problem}", path=path
            ) from None
    return encoded


def decode_variables(encoded: Mapping[str, Any]) -> dict[str, Any]:
    """Variables as ``encode_variables`` wrote them, back in their own types."""
    return {name: decode(value) for name, value in encoded.items()}


def copy_variables(variables: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Checked variables, copied as a store would read them back: what an instance holds is
    then its own, and no later change to the caller's lists and dicts reaches a live run
    without reaching the stored one too."""
    return decode_variables(encode_variables(variables, where))


def encode(value: Any) -> Any:
    """Any value of a JSON column (variables, history, lists of names) in its stored form; a
    dict is escaped like one nested in a variable, so ``decode`` reads every one back."""
    try:
        return _Walk().encode(value, 0)
    except _Refused as refused:
        path = _path(refused.segments)
        raise VariableTypeError(
            f"stored value {path or '(top level)'} {refused.problem}", path=path
        ) from None


def decode(stored: Any) -> Any:
    """A value as ``encode`` or ``encode_variables`` stored it, back in its own types."""
    kind = type(stored)
    if kind is dict:
        if len(stored) == 1:
            [(key, inner)] = stored.items()
            if key == _MAP:
                return {name: decode(item) for name, item in inner.items()}
            decoder = _DECODERS.get(key)
            if decoder is not None:
                return decoder(inner)
        return {name: decode(item) for name, item in stored.items()}
    if kind is list:
        return [decode(item) for item in stored]
    return stored


def is_variable_scalar(value: Any) -> bool:
    """Whether ``value`` is one of the variable types other than a list or dict (its limits
    aside): what a handler's pydantic model may hand over unconverted."""
    return type(value) in _SCALAR_TYPES or type(value) in _TAGGED


class _Refused(Exception):
    """Internal: a value was refused; the path is collected while the walk unwinds, so that
    no path is built for the values that pass."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        self.segments: list[str | int] = []


class _Walk:
    """One bounded walk over values; the budgets are shared by every variable it encodes."""

    __slots__ = ("open", "other", "text_left", "values_left")

    def __init__(self, other: Callable[[Any], Any] | None = None) -> None:
        self.other = other
        self.values_left = MAX_VALUES
        self.text_left = MAX_TEXT
        self.open: set[int] = set()  # ids of the lists and dicts being walked: a cycle's mark

    def text(self, value: str) -> None:
        self.text_left -= len(value)
        if self.text_left < 0:
            raise _Refused(
                f"takes the variables past {MAX_TEXT:,} characters of text; keep "
                "large documents outside the process and store a reference"
            )
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as error:
                bad = value[error.start]
                raise _Refused(
                    f"holds a lone surrogate (U+{ord(bad):04X}) at character {error.start}, "
                    "which is not Unicode text and no store can keep; decode the text it came "
                    "from with errors='replace'"
                ) from None

    def encode(self, value: Any, depth: int) -> Any:
        self.values_left -= 1
        if self.values_left < 0:
            raise _Refused(
                f"takes the variables past {MAX_VALUES:,} values (a list or dict "
                "referred to many times counts each time); keep bulk data outside "
                "the process and store a reference"
            )
        kind = type(value)
        if kind is str:
            self.text(value)
            return value
        if kind is int:
            return value if _INT64_MIN <= value <= _INT64_MAX else self._big_int(value)
        if kind is float:
            if math.isfinite(value):
                return value
            raise _Refused(
                f"is the float {value!r}; variables hold finite numbers only (JSON "
                "and FEEL have no infinity or NaN): store null or text instead"
            )
        if value is None or kind is bool:
            return value
        if kind is dict or kind is list:
            return self._container(value, depth)
        tag = _TAGGED.get(kind)
        if tag is not None:
            name, encoder = tag
            encoded = encoder(value)
            self.text(encoded)
            return {name: encoded}
        if self.other is not None:
            return self.other(value)
        raise _Refused(_unsupported(value))

    def _big_int(self, value: int) -> dict[str, str]:
        if value.bit_length() > MAX_INT_BITS:
            raise _Refused(
                f"is an integer of {value.bit_length():,} bits; variables hold "
                f"integers of at most {MAX_INT_BITS:,} bits"
            )
        # Decimal converts without int's 4,300-digit limit on str().
        digits = str(Decimal(value))
        self.text(digits)
        return {"$int": digits}

    def _container(self, value: dict[Any, Any] | list[Any], depth: int) -> Any:
        if id(value) in self.open:
            raise _Refused(
                "contains itself (a cyclic list or dict), which no store can "
                "keep; store a copy instead"
            )
        if depth > MAX_DEPTH:
            raise _Refused(f"is nested more than {MAX_DEPTH} levels deep; flatten it")
        self.open.add(id(value))
        result: Any
        if isinstance(value, list):
            result = []
            for index, item in enumerate(value):
                try:
                    result.append(self.encode(item, depth + 1))
                except _Refused as refused:
                    refused.segments.append(index)
                    raise
        else:
            result = {}
            for key, item in value.items():
                if type(key) is not str:
                    raise _Refused(
                        f"has the key {key!r} of type {type(key).__name__}; the "
                        "keys of a dict variable are text: use str(key)"
                    )
                try:
                    self.text(key)
                    result[key] = self.encode(item, depth + 1)
                except _Refused as refused:
                    refused.segments.append(key)
                    raise
            if len(result) == 1 and next(iter(result)).startswith("$"):
                result = {_MAP: result}
        self.open.discard(id(value))
        return result


def _path(segments: list[str | int]) -> str:
    """``order.items[3].price`` from the segments collected innermost first."""
    parts: list[str] = []
    for segment in reversed(segments):
        if type(segment) is int:
            parts.append(f"[{segment}]")
        elif not parts:
            parts.append(str(segment))
        elif str(segment).isidentifier():
            parts.append(f".{segment}")
        else:
            parts.append(f"[{segment!r}]")
    return "".join(parts)


def _unsupported(value: Any) -> str:
    kind = type(value)
    if isinstance(
        value, datetime | date | time | int | float | str | dict | list | Decimal | timedelta
    ):
        base = next(
            b
            for b in (datetime, date, time, bool, int, float, str, dict, list, Decimal, timedelta)
            if isinstance(value, b)
        )
        return (
            f"is a {kind.__name__}, a subclass of {base.__name__} that a store reads back "
            f"as a plain {base.__name__}; convert it first"
        )
    hints: dict[type, str] = {
        tuple: "use a list",
        set: "use a sorted list",
        frozenset: "use a sorted list",
        bytes: "store text (base64 or hex) instead",
        bytearray: "store text (base64 or hex) instead",
    }
    hint = hints.get(
        kind,
        "store JSON-like data (text, numbers, lists, dicts), a date, time, "
        "date-time with time zone, duration or Decimal instead",
    )
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    return f"is of type {name}, which is not a variable type; {hint}"


# -- the tagged types ----------------------------------------------------------------------------


def _encode_time(value: time) -> str:
    if value.tzinfo is not None and type(value.tzinfo) is not timezone:
        raise _Refused(
            f"is a time with the zone {value.tzinfo!r}; a time of day keeps a fixed "
            "UTC offset only (datetime.timezone): use one, or store a date-time"
        )
    return value.isoformat()


def _encode_datetime(value: datetime) -> str:
    zone = value.tzinfo
    if zone is None or value.utcoffset() is None:
        raise _Refused(
            "is a date-time without a time zone, which means a different moment on "
            "every machine; give it one: datetime.now(UTC), value.replace("
            "tzinfo=UTC), or in FEEL a literal with an offset ('...T09:30:00Z')"
        )
    if type(zone) is timezone:
        return value.isoformat()
    if type(zone) is ZoneInfo and zone.key:
        return f"{value.isoformat()}[{zone.key}]"
    raise _Refused(
        f"is a date-time in the zone {zone!r}; variables keep datetime.timezone "
        "offsets or zoneinfo.ZoneInfo zones: convert with value.astimezone("
        "ZoneInfo('Europe/Berlin')) or value.astimezone(UTC)"
    )


def _decode_datetime(text: str) -> datetime:
    if not text.endswith("]"):
        return datetime.fromisoformat(text)
    moment, _, key = text[:-1].partition("[")
    parsed = datetime.fromisoformat(moment)
    zone = ZoneInfo(key)
    local = parsed.replace(tzinfo=zone)
    # The written offset tells which of two equal wall-clock times (a DST fold) it was.
    return local if local.utcoffset() == parsed.utcoffset() else local.replace(fold=1)


def _encode_duration(value: timedelta) -> str:
    micros = value // timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    days, rest = divmod(abs(micros), _MICROS_PER_DAY)
    seconds, fraction = divmod(rest, _MICROS_PER_SECOND)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{sign}P{days}D" if days else f"{sign}P"
    if rest or not days:
        text += "T"
        text += f"{hours}H" if hours else ""
        text += f"{minutes}M" if minutes else ""
        if seconds or fraction or not (hours or minutes):
            text += f"{seconds}.{fraction:06d}S" if fraction else f"{seconds}S"
    return text


def _decode_duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a stored duration")
    sign, days, hours, minutes, seconds, fraction = match.groups()
    value = timedelta(
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
        microseconds=int(fraction or 0),
    )
    return -value if sign else value


def _encode_period(value: isodate.Duration) -> str:
    years, months = value.years, value.months
    if value.tdelta or years != int(years) or months != int(months):
        raise _Refused(
            f"is the duration {value}, which is not whole years and months; store "
            "a years-months duration and a days-time duration (timedelta) apart"
        )
    years, months = int(years), int(months)
    if years <= 0 and months <= 0 and (years or months):
        return f"-P{-years}Y{-months}M"
    return f"P{years}Y{months}M"


def _decode_period(text: str) -> isodate.Duration:
    match = _PERIOD.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a stored years-months duration")
    sign, years, months = match.groups()
    factor = -1 if sign else 1
    return isodate.Duration(
        years=Decimal(factor * int(years)), months=Decimal(factor * int(months))
    )


def _encode_decimal(value: Decimal) -> str:
    if not value.is_finite():
        raise _Refused(
            f"is Decimal('{value}'); variables hold finite numbers only: store null "
            "or a text instead"
        )
    return str(value)


_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})
_TAGGED: dict[type, tuple[str, Callable[[Any], str]]] = {
    date: ("$date", date.isoformat),
    time: ("$time", _encode_time),
    datetime: ("$datetime", _encode_datetime),
    timedelta: ("$duration", _encode_duration),
    isodate.Duration: ("$period", _encode_period),
    Decimal: ("$decimal", _encode_decimal),
}
_DECODERS: dict[str, Callable[[Any], Any]] = {
    "$int": lambda digits: int(Decimal(digits)),  # no 4,300-digit limit, as in _big_int
    "$date": date.fromisoformat,
    "$time": time.fromisoformat,
    "$datetime": _decode_datetime,
    "$duration": _decode_duration,
    "$period": _decode_period,
    "$decimal": Decimal,
}
