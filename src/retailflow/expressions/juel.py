"""Camunda 7's ``${...}`` expressions (JUEL) compiled to closures, with EL's coercion rules.

Only what conditions and mappings in Camunda 7 files use: names, properties and items of the
process data (never attributes of Python objects), literals, operators and the ternary.
Method and function calls are refused: they are how JUEL reaches into Java beans, and retailflow
has none to offer. Unlike FEEL, an unknown variable is an error, as in Camunda 7.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from retailflow.expressions.feel_values import is_number, multiply
from retailflow.model import ExpressionError

Evaluator = Callable[[Mapping[str, Any]], Any]

_ESCAPES = {"\\": "\\", "'": "'", '"': '"'}


@functools.cache
def _parser() -> Lark:
    grammar = (Path(__file__).parent / "juel.lark").read_text(encoding="utf-8")
    return Lark(grammar, start=["template", "expr"], parser="lalr", maybe_placeholders=True)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def to_number(value: Any) -> Any:
    """EL coercion to a number: null is 0, numeric strings convert, anything else fails."""
    if value is None:
        return 0
    if is_number(value):
        return value
    if type(value) is str:
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                pass
    raise ExpressionError(f"cannot use {_kind(value)} {value!r:.40} as a number")


def to_boolean(value: Any) -> bool:
    """EL coercion to a boolean: null is false, ``"true"`` (any case) is true."""
    if value is None:
        return False
    if type(value) is bool:
        return value
    if type(value) is str:
        return value.lower() == "true"
    raise ExpressionError(f"cannot use {_kind(value)} {value!r:.40} as a boolean")


def equals(a: Any, b: Any) -> bool:
    """EL ``==``: numbers compare numerically, then booleans, then strings."""
    if a is b:
        return True
    if a is None or b is None:
        return False
    if is_number(a) or is_number(b):
        return bool(to_number(a) == to_number(b))
    if type(a) is bool or type(b) is bool:
        return to_boolean(a) == to_boolean(b)
    if type(a) is str or type(b) is str:
        return str(a) == str(b)
    return bool(a == b)


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def ordered(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return False
        if is_number(a) or is_number(b):
            return compare(to_number(a), to_number(b))
        if type(a) is str or type(b) is str:
            return compare(str(a), str(b))
        try:
            return compare(a, b)
        except TypeError as exc:
            raise ExpressionError(f"cannot compare {_kind(a)} with {_kind(b)}") from exc

    return ordered


def _divide(a: Any, b: Any) -> float:
    divisor = to_number(b)
    if not divisor:
        raise ExpressionError("division by zero")
    return to_number(a) / divisor


def _modulo(a: Any, b: Any) -> Any:
    """Java's ``%``: the remainder takes the dividend's sign."""
    dividend, divisor = to_number(a), to_number(b)
    if not divisor:
        raise ExpressionError("division by zero")
    remainder = abs(dividend) % abs(divisor)
    return remainder if dividend >= 0 else -remainder


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict | set) and not value)


def _property(base: Any, key: Any) -> Any:
    """``a.b`` and ``a[b]`` on process data: map entries and list items only."""
    if base is None:
        return None
    if isinstance(base, Mapping):
        return base.get(key)
    if isinstance(base, list | tuple):
        index = to_number(key)
        if type(index) is not int:
            raise ExpressionError(f"list index {key!r} is not an integer")
        return base[index] if 0 <= index < len(base) else None
    raise ExpressionError(
        f"cannot read {key!r} of a {_kind(base)}; only maps and lists have properties"
    )


def _unescape(token: Token) -> str:
    body = token[1:-1]
    out: list[str] = []
    chars = iter(body)
    for char in chars:
        if char == "\\":
            following = next(chars, "\\")
            out.append(_ESCAPES.get(following, "\\" + following))
        else:
            out.append(char)
    return "".join(out)


@v_args(inline=True)
class _Compiler(Transformer[Token, Any]):
    """Every node becomes a closure over its children's closures."""

    def template(self, expression: Evaluator) -> Evaluator:
        return expression

    def number(self, token: Token) -> Evaluator:
        value: Any = float(token) if any(c in token for c in ".eE") else int(token)
        return lambda scope: value

    def string(self, token: Token) -> Evaluator:
        value = _unescape(token)
        return lambda scope: value

    def true(self) -> Evaluator:
        return lambda scope: True

    def false(self) -> Evaluator:
        return lambda scope: False

    def null(self) -> Evaluator:
        return lambda scope: None

    def name(self, token: Token) -> Evaluator:
        key = str(token)

        def lookup(scope: Mapping[str, Any]) -> Any:
            try:
                return scope[key]
            except KeyError:
                raise ExpressionError(f"cannot resolve identifier '{key}'") from None

        return lookup

    def property(self, base: Evaluator, token: Token) -> Evaluator:
        key = str(token)
        return lambda scope: _property(base(scope), key)

    def item(self, base: Evaluator, key: Evaluator) -> Evaluator:
        return lambda scope: _property(base(scope), key(scope))

    def call(self, *parts: Any) -> Evaluator:
        raise ExpressionError(
            "method and function calls are not allowed in JUEL expressions; "
            "read a variable or property instead"
        )

    def _binary(self, op: Callable[[Any, Any], Any], a: Evaluator, b: Evaluator) -> Evaluator:
        return lambda scope: op(a(scope), b(scope))

    def add(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(lambda x, y: to_number(x) + to_number(y), a, b)

    def sub(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(lambda x, y: to_number(x) - to_number(y), a, b)

    def mul(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(lambda x, y: multiply(to_number(x), to_number(y)), a, b)

    def div(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(_divide, a, b)

    def mod(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(_modulo, a, b)

    def neg(self, a: Evaluator) -> Evaluator:
        return lambda scope: -to_number(a(scope))

    def not_(self, a: Evaluator) -> Evaluator:
        return lambda scope: not to_boolean(a(scope))

    def empty(self, a: Evaluator) -> Evaluator:
        return lambda scope: _empty(a(scope))

    def eq(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(equals, a, b)

    def ne(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(lambda x, y: not equals(x, y), a, b)

    def lt(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(_ordered(lambda x, y: x < y), a, b)

    def gt(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(_ordered(lambda x, y: x > y), a, b)

    def le(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(_ordered(lambda x, y: x <= y), a, b)

    def ge(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(_ordered(lambda x, y: x >= y), a, b)

    def and_(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return lambda scope: to_boolean(a(scope)) and to_boolean(b(scope))

    def or_(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return lambda scope: to_boolean(a(scope)) or to_boolean(b(scope))

    def conditional(self, condition: Evaluator, then: Evaluator, otherwise: Evaluator) -> Evaluator:
        return lambda scope: then(scope) if to_boolean(condition(scope)) else otherwise(scope)


def _syntax_error(text: str, error: UnexpectedInput) -> ExpressionError:
    token = getattr(error, "token", None)
    if isinstance(error, UnexpectedEOF) or (token is not None and token.type == "$END"):
        return ExpressionError("JUEL syntax error: the expression ends too early")
    if isinstance(error, UnexpectedCharacters):
        return ExpressionError(
            f"JUEL syntax error at column {error.column}: "
            f"unexpected character {text[error.pos_in_stream]!r}"
        )
    return ExpressionError(
        f"JUEL syntax error at column {error.column}: unexpected {str(token)[:40]!r}"
    )


def compile_juel(text: str) -> Evaluator:
    """An evaluator for ``${...}``/``#{...}``, or for a bare expression (DMN ``juel`` texts)."""
    body = text.strip()
    start = "template" if body.startswith(("${", "#{")) else "expr"
    try:
        evaluator: Evaluator = _Compiler().transform(_parser().parse(body, start=start))
    except UnexpectedInput as exc:
        raise _syntax_error(body, exc) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, ExpressionError):
            raise exc.orig_exc from None
        raise ExpressionError("the expression is nested too deeply") from None
    except RecursionError:
        raise ExpressionError("the expression is nested too deeply") from None
    return evaluator
