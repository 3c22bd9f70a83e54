"""The run-time half of the Python sandbox: the only builtins a script sees, and the guard
functions RestrictedPython (and ``python_policy``) route attribute, item and operator access to.

Attribute access is refused for every name starting with ``_`` (the way out of every Python
sandbox: ``().__class__.__base__.__subclasses__()``); a method taken from a class
(``str.zfill``, ``str.format``) goes through the same checks as one taken from an instance, and
``str.format`` fields are plain names only (see ``python_format``). Operators, methods and
conversions that can multiply memory or time in one step check the result size first (see
``limits``); ``str()`` and ``int()`` are the built-in types with a size check in front.
"""

from __future__ import annotations

import builtins
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Sized
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import MethodDescriptorType, WrapperDescriptorType
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from retailflow.expressions.build_allowance import (
    charge,
    charge_item,
    collection_bytes,
    sequence_bytes,
)
from retailflow.expressions.limits import (
    MAX_FORMAT_WIDTH,
    MAX_INT_BITS,
    MAX_INT_DIGITS,
    MAX_ITEMS,
    MAX_TEXT,
    MAX_VALUE_SIZE,
)
from retailflow.expressions.python_format import (
    format_text,
    refuse_long_integer,
    refuse_unrenderable,
    rendered,
)
from retailflow.expressions.python_policy import REFUSED_ATTRIBUTES
from retailflow.expressions.time_budget import no_deadline
from retailflow.expressions.value_size import SCALAR_TYPES, estimated_size, refuse_oversized
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


def _refuse_oversized_repetition(size: int) -> None:
    if size > MAX_VALUE_SIZE:
        raise ExpressionError(
            f"a repetition would build a value printing to about {size} characters, above "
            f"the sandbox's limit of {MAX_VALUE_SIZE}; refused"
        )


def _refuse_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise ExpressionError(
            f"an integer of about {int(bits * 0.30103)} digits would exceed "
            f"the sandbox's limit of {int(MAX_INT_BITS * 0.30103)}; refused"
        )


def _charged(result: Any) -> Any:
    """A sequence just built, counted against the evaluation's allowance (build_allowance)."""
    charge(sequence_bytes(result))
    return result


def guarded_add(a: Any, b: Any) -> Any:
    """``a + b`` without building a sequence bigger than the limit."""
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        _refuse_size("a concatenation", len(a) + len(b), _limit(a))
        return _charged(operator.add(a, b))
    return a + b


def guarded_mul(a: Any, b: Any) -> Any:
    """``a * b`` without ``'a' * 10**10`` or a multi-million-digit product."""
    if isinstance(a, int) and isinstance(b, _SEQUENCES):
        a, b = b, a
    if isinstance(a, _SEQUENCES) and isinstance(b, int):
        _refuse_size("a repetition", len(a) * max(b, 0), _limit(a))
        if isinstance(a, list | tuple) and b > 1:
            # [[[0] * 1000] * 1000] * 1000 holds 1000 references but prints 10**9 zeros.
            _refuse_oversized_repetition(estimated_size(a) * b)
        return _charged(a * b)
    if isinstance(a, int) and isinstance(b, int):
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
        refuse_unrenderable(b, "a %-formatted value")
        for value in b if isinstance(b, tuple) else (b,):
            refuse_long_integer(value, "%-formatting a Decimal")
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


def _width(args: tuple[Any, ...], kwargs: dict[str, Any], keyword: str, default: int) -> int:
    """The size argument of ``ljust(width)``, ``to_bytes(length)`` and the like."""
    value = args[0] if args else kwargs.get(keyword, default)
    return int(value) if isinstance(value, int) else default


def _joined(separator: str | bytes, parts: Iterable[Any], kind: str) -> str | bytes:
    """``separator.join(parts)``, counting as it goes: the parts may come from a generator."""
    taken: list[Any] = []
    size = 0
    for part in parts:
        taken.append(part)
        size += len(separator) + (len(part) if isinstance(part, str | bytes) else 0)
        _refuse_size(f"{kind}.join()", size, MAX_TEXT)
    joined = separator.join(taken)
    charge(sequence_bytes(joined))
    return joined


def _extended(target: list[Any], items: Iterable[Any]) -> None:
    """``target.extend(items)`` that stops counting one item past the limit."""
    room = MAX_ITEMS - len(target)
    values = list(itertools.islice(items, max(room, 0) + 1))
    if len(values) > room:
        size = len(target) + (len(items) if isinstance(items, Sized) else len(values))
        _refuse_size("list.extend()", size, MAX_ITEMS)
    charge(sequence_bytes(values))
    target.extend(values)


_ADDING_METHODS = frozenset({"append", "insert", "add"})
"""List and set methods that add one item: in a loop they grow the container without end."""

_COMPARING_METHODS = frozenset({"sort", "index", "count", "remove"})
"""List methods that compare items: [big] * n compares n copies of big, item by item."""


def _bounded_method(obj: Any, name: str) -> Callable[..., Any] | None:
    """A checked stand-in for a method that can build or walk too much in one call (its size is
    an argument, it grows text by a factor, it compares every item), or None to use the method
    as it is. A refusal can come at once, when the object alone already rules the call out."""
    if isinstance(obj, str | bytes):
        text = obj
        kind = type(text).__name__
        if name in ("format", "format_map"):
            if isinstance(text, bytes):
                return None
            if name == "format":
                return lambda *args, **kwargs: format_text(text, args, kwargs)
            return lambda mapping: format_text(text, (), mapping)
        if name in ("ljust", "rjust", "center", "zfill"):

            def padded(*args: Any, **kwargs: Any) -> Any:
                _refuse_size(f"{kind}.{name}()", _width(args, kwargs, "width", 0), MAX_TEXT)
                return _charged(getattr(text, name)(*args, **kwargs))

            return padded
        if name == "expandtabs":

            def expanded(*args: Any, **kwargs: Any) -> Any:
                tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
                size = len(text) + tabs * _width(args, kwargs, "tabsize", 8)
                _refuse_size(f"{kind}.expandtabs()", size, MAX_TEXT)
                return _charged(text.expandtabs(*args, **kwargs))

            return expanded
        if name == "replace":

            def replaced(old: Any, new: Any, *count: Any) -> Any:
                hits = len(text) + 1 if not old else text.count(old)
                _refuse_size(f"{kind}.replace()", len(text) + hits * len(new), MAX_TEXT)
                return _charged(text.replace(old, new, *count))

            return replaced
        if name == "join":
            return lambda parts: _joined(text, parts, kind)
        if name == "translate":
            raise ExpressionError("str.translate() is refused in the sandbox; use replace()")
        if name in ("encode", "hex"):
            # At most 4x the text, checked after: chained, they would grow without end.
            method = getattr(text, name)

            def converted(*args: Any, **kwargs: Any) -> Any:
                result = method(*args, **kwargs)
                _refuse_size(f"{kind}.{name}()", len(result), MAX_TEXT)
                return _charged(result)

            return converted
    elif isinstance(obj, list) and name == "extend":
        target = obj
        return lambda items: _extended(target, items)
    elif isinstance(obj, list | set) and name in _ADDING_METHODS:
        add = getattr(obj, name)

        def adding(*args: Any, **kwargs: Any) -> Any:
            charge_item()
            return add(*args, **kwargs)

        return adding
    elif isinstance(obj, list) and name in _COMPARING_METHODS:
        refuse_oversized(obj, f"the list whose {name}() compares its items")
    elif isinstance(obj, int) and name == "to_bytes":
        number = obj

        def to_bytes(*args: Any, **kwargs: Any) -> bytes:
            _refuse_size("int.to_bytes()", _width(args, kwargs, "length", 1), MAX_TEXT)
            return number.to_bytes(*args, **kwargs)

        return to_bytes
    elif isinstance(obj, Decimal) and name == "as_integer_ratio":
        refuse_long_integer(obj, "Decimal.as_integer_ratio()")
    return None


def _class_attribute(cls: type, name: str) -> Any:
    """``str.zfill``, ``list.extend``: a method taken from the class is called with the instance
    as its first argument, and goes through the same checks as when taken from the instance."""
    value = getattr(cls, name)
    if issubclass(cls, int) and name == "from_bytes":

        def from_bytes(data: Any, *args: Any, **kwargs: Any) -> int:
            if isinstance(data, bytes | list | tuple):
                _refuse_bits(len(data) * 8)
            return int.from_bytes(data, *args, **kwargs)

        return from_bytes
    if not isinstance(value, MethodDescriptorType | WrapperDescriptorType):
        return value  # constants, class methods and static methods: called on no instance
    owner = value.__objclass__

    def unbound(instance: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(instance, owner):
            raise ExpressionError(
                f"{owner.__name__}.{name}() needs a {owner.__name__}, "
                f"not a {type(instance).__name__}"
            )
        return guarded_getattr(instance, name)(*args, **kwargs)

    return unbound


def guarded_getattr(obj: Any, name: str) -> Any:
    """``obj.name`` for public attributes only, with size checks on the methods that need them."""
    if name.startswith("_") or name in REFUSED_ATTRIBUTES:
        raise ExpressionError(f"access to attribute {name!r} is refused")
    if isinstance(obj, type):
        return _class_attribute(obj, name)
    bounded = _bounded_method(obj, name)
    return getattr(obj, name) if bounded is None else bounded


def guarded_write(obj: Any) -> Any:
    """Item assignment and ``del`` only on plain containers the script owns; ``d[k] = v`` may
    add an item, charged to the build allowance."""
    if isinstance(obj, dict):
        charge_item()
        return obj
    if isinstance(obj, list | set):
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


class BoundedStr(str):
    """``str`` as the sandbox offers it: ``str(x)`` refuses a value that would print past
    ``MAX_TEXT`` characters (``str([[0] * 10**6] * 10**6)``) before rendering any of it. Calling
    it returns a plain ``str``; its methods are ``str``'s."""

    def __new__(cls, *args: Any, **kwargs: Any) -> str:  # type: ignore[misc]
        if len(args) == 1 and not kwargs:
            refuse_unrenderable(args[0], "str()")
        return str(*args, **kwargs)


class BoundedInt(int):
    """``int`` as the sandbox offers it: ``int(Decimal('1e999999999'))`` and ``int('9' * 10**7)``
    are refused instead of writing out their digits. Calling it returns a plain ``int``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> int:  # type: ignore[misc]
        if args:
            refuse_long_integer(args[0], "int()")
            if isinstance(args[0], str | bytes):
                _refuse_size("int() of a text", len(args[0]), MAX_INT_DIGITS)
        return int(*args, **kwargs)


def bounded_round(number: Any, *ndigits: Any) -> Any:
    """``round``; ``round(Decimal('1e999999999'))`` would be an integer of a billion digits."""
    if not ndigits or ndigits[0] is None:
        refuse_long_integer(number, "round()")
    return round(number, *ndigits)


def _collected(result: Any, args: tuple[Any, ...]) -> Any:
    """A collection just built from ``args[0]``, charged to the build allowance."""
    charge(collection_bytes(result, args[0] if args else None))
    return result


def _collecting(kind: type) -> type:
    """``list``/``tuple``/``set``/``dict`` as the sandbox offers them: calling one charges the
    collection it returns to the build allowance (``[tuple(range(1000)) for i in range(10**6)]``
    is 30 GB) and returns a plain one; the class's methods are the built-in's."""

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        return _collected(kind(*args, **kwargs), args)

    namespace = {"__new__": __new__, "__slots__": (), "__doc__": kind.__doc__}
    return type(kind.__name__, (kind,), namespace)


def charged_sorted(items: Iterable[Any], /, **kwargs: Any) -> list[Any]:
    """``sorted``, charging the list it returns to the build allowance."""
    result: list[Any] = _collected(sorted(items, **kwargs), (items,))
    return result


def built(value: Any) -> Any:
    """A comprehension's result, refused if it is too large to store or compare
    (``python_policy`` wraps every list, set and dict comprehension in a call to this)."""
    refuse_oversized(value, "a comprehension's result")
    return value


def compared(value: Any) -> Any:
    """One side of a comparison, refused if comparing it could walk more than the limit
    (``python_policy`` wraps both sides of ``a == b`` or ``x in items``, not ``amount > 100``)."""
    if type(value) not in SCALAR_TYPES:
        refuse_oversized(value, "a value compared")
    return value


def _comparing(function: Callable[..., Any]) -> Callable[..., Any]:
    """``sorted``/``min``/``max``, refusing a collection too large to compare item by item."""
    name = function.__name__

    def compare(*args: Any, **kwargs: Any) -> Any:
        for arg in args:
            if isinstance(arg, list | tuple | set | frozenset | dict):
                refuse_oversized(arg, f"the input of {name}()")
        return function(*args, **kwargs)

    compare.__name__ = name
    return compare


def numeric_sum(items: Iterable[Any], start: Any = 0) -> Any:
    """``sum`` of numbers; summing lists or strings is quadratic, so it is refused."""
    if isinstance(start, _SEQUENCES):
        raise ExpressionError("sum() of sequences is refused; use a comprehension")
    return sum(items, start)


_RUNTIME_IMPORTS = frozenset({"time", "_strptime"})


def _runtime_import(name: str, *args: Any, **kwargs: Any) -> Any:
    """The imports C's ``datetime`` makes itself, through the builtins of the frame that calls
    ``strftime``, ``strptime`` or ``timetuple``: those two modules only. A script cannot
    import anything itself (``import`` and names starting with ``_`` are refused when it is
    compiled), so this is reached from C code alone."""
    if name not in _RUNTIME_IMPORTS:
        raise ExpressionError(f"importing {name!r} is refused")
    return builtins.__import__(name, *args, **kwargs)


SAFE_BUILTINS: dict[str, Any] = {
    "__import__": _runtime_import,
    "len": len,
    "min": _comparing(min),
    "max": _comparing(max),
    "sum": numeric_sum,
    "sorted": _comparing(charged_sorted),
    "reversed": reversed,
    "round": bounded_round,
    "abs": abs,
    "int": BoundedInt,
    "float": float,
    "str": BoundedStr,
    "bool": bool,
    "list": _collecting(list),
    "dict": _collecting(dict),
    "set": _collecting(set),
    "tuple": _collecting(tuple),
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
"""The whole of Python a script sees besides its variables: no ``open``, ``getattr``, ``type``
or ``isinstance``, and an ``__import__`` only ``datetime``'s own C code can reach."""

GUARDS: dict[str, Any] = {
    "__builtins__": SAFE_BUILTINS,
    "_getattr_": guarded_getattr,
    "_getitem_": guarded_getitem,
    "_getiter_": iter,
    "_builditer_": iter,
    "_tick_": no_deadline,
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
    "_rendered_": rendered,
    "_built_": built,
    "_compared_": compared,
}
"""The names RestrictedPython's generated code calls; merged last so no variable shadows them."""
