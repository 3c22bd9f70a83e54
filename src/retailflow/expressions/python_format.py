"""Turning values into text inside the Python sandbox: ``str.format`` with plain fields only, and
a size check before anything is rendered.

``'{0.__globals__}'.format(f)`` reads attributes the sandbox refuses everywhere else, and
``'{0:>10000000000}'.format(1)`` or ``str([[0] * 10**6] * 10**6)`` build gigabytes in one C call.
So a format string may name a field only by position or by name (``{}``, ``{0}``, ``{total}``),
its widths and precisions stay under ``MAX_FORMAT_WIDTH``, and no value is rendered (by
``str()``, ``!r``, an f-string field or ``%``) if its estimated printed size passes the limit.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from retailflow.expressions.limits import MAX_FORMAT_WIDTH, MAX_INT_DIGITS, MAX_TEXT
from retailflow.expressions.value_size import refuse_oversized
from retailflow.model import ExpressionError

_NUMBER = re.compile(r"\d+")
_AS_IS = frozenset({type(None), bool, int, float, str, date, datetime, time, timedelta})
"""Types an f-string renders at about their own size: short whatever the value (an int past
4300 digits is not printed at all: Python's own limit refuses it), or text already in memory."""


def exceeds_format_width(spec: str) -> bool:
    """Whether a format specification asks for a width or precision above the limit."""
    return any(
        len(number) > len(str(MAX_FORMAT_WIDTH)) or int(number) > MAX_FORMAT_WIDTH
        for number in _NUMBER.findall(spec)
    )


def refuse_unrenderable(value: Any, what: str) -> None:
    """Refuse a value whose printed form would pass ``MAX_TEXT`` characters."""
    refuse_oversized(value, what, MAX_TEXT)


def refuse_long_integer(value: Any, what: str) -> None:
    """Refuse turning a ``Decimal`` into an integer of more than ``MAX_INT_DIGITS`` digits:
    ``int(Decimal('1e999999999'))`` writes out a billion digits, and no integer limit applies."""
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() >= MAX_INT_DIGITS:
        raise ExpressionError(
            f"{what} would build an integer of {value.adjusted() + 1} digits, above the "
            f"sandbox's limit of {MAX_INT_DIGITS}; refused"
        )


def rendered(value: Any) -> Any:
    """An f-string field's value, checked before Python formats it (``python_policy`` wraps
    every ``{...}`` of an f-string in a call to this)."""
    if type(value) not in _AS_IS:
        refuse_unrenderable(value, "an f-string field")
    return value


class _PlainFieldFormatter(string.Formatter):
    """``string.Formatter`` that reaches no attribute or item and keeps every field bounded."""

    def __init__(self) -> None:
        self.written = 0

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if "." in field_name or "[" in field_name:
            raise ExpressionError(
                f"format field {{{field_name}}} reaches into an attribute or item; only plain "
                "fields such as {}, {0} or {total} are allowed"
            )
        return super().get_field(field_name, args, kwargs)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        refuse_unrenderable(value, "a format field")
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        if exceeds_format_width(format_spec):
            raise ExpressionError(f"a format width above {MAX_FORMAT_WIDTH} is refused")
        refuse_unrenderable(value, "a format field")
        text = super().format_field(value, format_spec)
        self.written += len(text)
        if self.written > MAX_TEXT:
            raise ExpressionError(
                f"str.format() would build more than {MAX_TEXT} characters; refused"
            )
        return text


def format_text(template: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """``template.format(*args, **kwargs)`` with plain fields only (see the module docstring)."""
    return _PlainFieldFormatter().vformat(template, args, kwargs)
