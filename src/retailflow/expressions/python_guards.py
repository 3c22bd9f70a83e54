"""The run-time half of the Python sandbox: the only builtins a script sees, and the guard
functions RestrictedPython (and ``python_policy``) route attribute, item and operator access to.

Attribute access is refused for every name starting with ``_`` (the way out of every Python
sandbox: ``().__class__.__base__.__subclasses__()``), and ``str.format`` is refused because its
replacement fields reach attributes (``'{0.__class__}'.format(x)``). Operators and methods that
can multiply memory in one step check the result size first (see ``limits``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from retailflow.expressions.limits import MAX_FORMAT_WIDTH, MAX_INT_BITS, MAX_ITEMS, MAX_TEXT
from retailflow.expressions.python_policy import REFUSED_ATTRIBUTES
from retailflow.model import ExpressionError

_SEQUENCES = (str, bytes, list, tuple)
_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _limit(value: Any) -> int:
    return MAX_TEXT if isinstance(value, str | bytes) else MAX_ITEMS


def _refuse_size(what: str, size: int, limit: int) -> None:
    if size > limit:
        raise ExpressionError(
            f"{what} of {size} items would exceed the sandbox's limit of {limit}; refused"
        )


def _refuse_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise ExpressionError(
            f"an integer of about {int(bits * 0.30103)} digits would exceed "
            f"the sandbox's limit of {int(MAX_INT_BITS * 0.30103)}; refused"
        )


def guarded_add(a: Any, b: Any) -> Any:
    """``a + b`` without building a sequence bigger than the limit."""
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        _refuse_size("a concatenation", len(a) + len(b), _limit(a))
    return a + b


def guarded_mul(a: Any, b: Any) -> Any:
    """``a * b`` without ``'a' * 10**10`` or a multi-million-digit product."""
    if isinstance(a, int) and isinstance(b, _SEQUENCES):
        a, b = b, a
    if isinstance(a, _SEQUENCES) and isinstance(b, int):
        _refuse_size("a repetition", len(a) * max(b, 0), _limit(a))
    elif isinstance(a, int) and isinstance(b, int):
        _refuse_bits(a.bit_length() + b.bit_length())
    return a * b


def guarded_pow(a: Any, b: Any) -> Any:
    """``a ** b`` without ``10**10**10``."""
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        _refuse_bits(b * a.bit_length())
    return a**b


def guarded_lshift(a: Any, b: Any) -> Any:
    """``a << b`` is ``a * 2**b``: the same bound as ``**``."""
    if isinstance(a, int) and isinstance(b, int) and b > 0 and a:
        _refuse_bits(a.bit_length() + b)
    return a << b


def guarded_mod(a: Any, b: Any) -> Any:
    """``a % b``, refusing ``'%10000000000d' % 1``-style widths in printf formatting."""
    if isinstance(a, str | bytes):
        text = a.decode("latin-1") if isinstance(a, bytes) else a
        for match in _PERCENT_FIELD.finditer(text):
            for number in match.groups():
                if number == "*" or (
                    number and (len(number) > 5 or int(number) > MAX_FORMAT_WIDTH)
                ):
                    raise ExpressionError(
                        f"a format width above {MAX_FORMAT_WIDTH} (or '*') is refused"
                    )
    return a % b


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": guarded_add,
    "-=": operator.sub,
    "*=": guarded_mul,
    "/=": operator.truediv,
    "//=": operator.floordiv,
    "%=": guarded_mod,
    "**=": guarded_pow,
    "<<=": guarded_lshift,
    ">>=": operator.rshift,
    "&=": operator.and_,
    "|=": operator.or_,
    "^=": operator.xor,
    "@=": operator.matmul,
}


def inplace(op: str, target: Any, value: Any) -> Any:
    """``x += y`` and friends, through the same guards as the binary operators."""
    return _INPLACE[op](target, value)


def _bounded_text_method(
    text: str | bytes, name: str, method: Callable[..., Any]
) -> Callable[..., Any]:
    """The few ``str``/``bytes`` methods whose result size is an argument, checked first."""

    def checked(*args: Any, **kwargs: Any) -> Any:
        if name in ("ljust", "rjust", "center", "zfill") and args:
            _refuse_size(f"str.{name}()", int(args[0]), MAX_TEXT)
        elif name == "expandtabs":
            size = int(args[0]) if args else 8
            _refuse_size(
                "str.expandtabs()",
                len(text) + text.count("\t" if isinstance(text, str) else b"\t") * size,
                MAX_TEXT,
            )
        elif name == "replace" and len(args) >= 2:
            old, new = args[0], args[1]
            hits = len(text) + 1 if not old else text.count(old)
            _refuse_size("str.replace()", len(text) + hits * len(new), MAX_TEXT)
        elif name == "join" and args:
            parts = list(args[0])
            _refuse_size(
                "str.join()",
                sum(len(part) for part in parts if isinstance(part, str | bytes))
                + len(text) * len(parts),
                MAX_TEXT,
            )
            return method(parts)
        elif name == "translate":
            raise ExpressionError("str.translate() is refused in the sandbox; use replace()")
        return method(*args, **kwargs)

    return checked


_TEXT_METHODS = frozenset(
    {"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join", "translate"}
)


def guarded_getattr(obj: Any, name: str) -> Any:
    """``obj.name`` for public attributes only, with size checks on a few ``str`` methods."""
    if name.startswith("_") or name in REFUSED_ATTRIBUTES:
        raise ExpressionError(f"access to attribute {name!r} is refused")
    if isinstance(obj, str | bytes):
        if name in ("format", "format_map"):
            raise ExpressionError(
                "str.format() is refused: its fields can reach attributes; use an f-string"
            )
        if name in _TEXT_METHODS:
            return _bounded_text_method(obj, name, getattr(obj, name))
    if isinstance(obj, list) and name == "extend":

        def extend(items: Iterable[Any]) -> None:
            values = list(items)
            _refuse_size("list.extend()", len(obj) + len(values), MAX_ITEMS)
            obj.extend(values)

        return extend
    return getattr(obj, name)


def guarded_write(obj: Any) -> Any:
    """Item assignment and ``del`` only on plain containers the script owns."""
    if isinstance(obj, list | dict | set):
        return obj
    raise ExpressionError(f"changing a {type(obj).__name__} object is refused")


def guarded_getitem(obj: Any, key: Any) -> Any:
    """``obj[key]``; slicing and indexing of data are harmless."""
    return obj[key]


def guarded_apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Calls written with ``*args``/``**kwargs``."""
    return function(*args, **kwargs)


def bounded_range(*args: int) -> range:
    """``range`` that refuses more than ``MAX_ITEMS`` numbers (``sum(range(10**12))`` hangs)."""
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = MAX_ITEMS + 1
    _refuse_size("range()", size, MAX_ITEMS)
    return numbers


def numeric_sum(items: Iterable[Any], start: Any = 0) -> Any:
    """``sum`` of numbers; summing lists or strings is quadratic, so it is refused."""
    if isinstance(start, _SEQUENCES):
        raise ExpressionError("sum() of sequences is refused; use a comprehension")
    return sum(items, start)


SAFE_BUILTINS: dict[str, Any] = {
    "len": len,
    "min": min,
    "max": max,
    "sum": numeric_sum,
    "sorted": sorted,
    "reversed": reversed,
    "round": round,
    "abs": abs,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "list": list,
    "dict": dict,
    "set": set,
    "tuple": tuple,
    "range": bounded_range,
    "enumerate": enumerate,
    "zip": zip,
    "any": any,
    "all": all,
    "Decimal": Decimal,
    "date": date,
    "datetime": datetime,
    "timedelta": timedelta,
    "timezone": timezone,
    "Exception": Exception,
    "ValueError": ValueError,
    "TypeError": TypeError,
    "KeyError": KeyError,
    "IndexError": IndexError,
    "ZeroDivisionError": ZeroDivisionError,
    "ArithmeticError": ArithmeticError,
    "LookupError": LookupError,
}
"""The whole of Python a script sees besides its variables: no ``open``, ``__import__``,
``getattr``, ``type`` or ``isinstance``."""

GUARDS: dict[str, Any] = {
    "__builtins__": SAFE_BUILTINS,
    "_getattr_": guarded_getattr,
    "_getitem_": guarded_getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": guarded_write,
    "_apply_": guarded_apply,
    "_inplacevar_": inplace,
    "_add_": guarded_add,
    "_mul_": guarded_mul,
    "_pow_": guarded_pow,
    "_lshift_": guarded_lshift,
    "_mod_": guarded_mod,
}
"""The names RestrictedPython's generated code calls; merged last so no variable shadows them."""
