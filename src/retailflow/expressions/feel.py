"""FEEL text to Python closures: parse once with lark, then evaluate without re-walking a tree.

An expression compiles to ``fn(scope) -> value`` where ``scope`` is any mapping of variables;
unknown names are null, as in FEEL. Unary tests (DMN input entries) compile to
``fn(scope) -> bool`` with the input value bound to ``?`` in ``scope``. Every evaluation runs
under a ``feel_budget.EvaluationBudget``: loops (``for``, ``some``/``every``, filters) and
function calls spend its steps, and every list or context built is admitted against the size
limits, so no expression runs unbounded or builds a value bomb.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, time
from pathlib import Path
from typing import Any

import isodate
from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from retailflow.expressions.feel_budget import budgeted, current
from retailflow.expressions.feel_functions import BUILTINS, Builtin, parse_date_and_time
from retailflow.expressions.feel_values import (
    COMPARISONS,
    Range,
    add,
    conjunction,
    disjunction,
    divide,
    equal,
    greater_equal,
    integer_range,
    is_number,
    less_equal,
    matches,
    member,
    multiply,
    negate,
    power,
    subtract,
)
from retailflow.model import ExpressionError

Evaluator = Callable[[Mapping[str, Any]], Any]
Arguments = list[Evaluator] | dict[str, Evaluator]
"""A call's arguments: by position, or by (FEEL parameter) name."""

_NULL_ON = (
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    AttributeError,
    isodate.ISO8601Error,
)
"""What a built-in may raise for odd arguments; FEEL answers null instead."""

_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "'": "'", "\\": "\\"}


@functools.cache
def _parser() -> Lark:
    grammar = (Path(__file__).parent / "feel.lark").read_text(encoding="utf-8")
    return Lark(
        grammar, start=["expression", "unary_tests"], parser="lalr", maybe_placeholders=True
    )


class Scope(dict[str, Any]):
    """Names a loop, function, filter or context binds, over the enclosing scope.

    A dict, so a hit costs what a dict lookup costs; a miss falls through to the parent (any
    mapping, such as the process variables). A ``collections.ChainMap`` does the same at
    several times the cost of every name lookup inside a loop.
    """

    __slots__ = ("parent",)

    def __init__(self, names: Mapping[str, Any], parent: Mapping[str, Any]) -> None:
        super().__init__(names)
        self.parent = parent

    def __missing__(self, key: str) -> Any:
        return self.parent[key]

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.parent

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self[key]
        except KeyError:
            return default


def _unescape(token: Token) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code.startswith("u") and len(code) == 5:
            return chr(int(code[1:], 16))
        # an unknown escape keeps its backslash: "\d+" is the regular expression \d+
        return _ESCAPES.get(code, "\\" + code)

    return _ESCAPE.sub(replace, token[1:-1])


def _temporal_literal(text: str) -> Any:
    """``@"..."`` literals: a date, a date and time, a time or a duration."""
    try:
        if text.lstrip("-").startswith("P"):
            return isodate.parse_duration(text)
        if "T" in text:
            return parse_date_and_time(text)
        if ":" in text:
            return time.fromisoformat(text.replace("Z", "+00:00"))
        return date.fromisoformat(text)
    except (ValueError, isodate.ISO8601Error) as exc:
        raise ExpressionError(f"@{text!r} is not a date, time or duration") from exc


class UserFunction:
    """A FEEL ``function(a, b) body`` value, closing over the scope it was defined in."""

    __slots__ = ("_run", "body", "params", "scope")

    def __init__(self, params: tuple[str, ...], body: Evaluator, scope: Mapping[str, Any]) -> None:
        self.params = params
        self.body = body
        self.scope = scope
        # called back from Python (a built-in such as sort) it joins the running evaluation
        self._run = budgeted(self._charged)

    def __call__(self, *args: Any) -> Any:
        if len(args) != len(self.params):
            return None
        scope = Scope(dict(zip(self.params, args, strict=True)), self.scope)
        return self._run(scope)

    def _charged(self, scope: Mapping[str, Any]) -> Any:
        current().spend(1)
        return self.body(scope)


def _index(items: Any, position: Any) -> Any:
    """``list[1]`` is the first item, ``list[-1]`` the last; out of range is null."""
    if not isinstance(items, list):
        items = [items]
    try:
        whole = int(position)
    except (ValueError, OverflowError):
        return None
    if whole != position:
        return None
    position = whole
    if position > 0 and position <= len(items):
        return items[position - 1]
    if position < 0 and -position <= len(items):
        return items[position]
    return None


def _input(scope: Mapping[str, Any]) -> Any:
    """``?``: the value a unary test (DMN input entry) tests."""
    try:
        return scope["?"]
    except KeyError:
        return None


def _truth(result: Any, value: Any) -> bool:
    """How a plain expression in an input entry tests the input (as Camunda's FEEL does)."""
    if isinstance(result, list | Range):
        return matches(value, result) is True
    if type(result) is bool and type(value) is not bool:
        return result
    return equal(value, result)


@v_args(inline=True)
class _Compiler(Transformer[Token, Any]):
    """Bottom-up: every node becomes a closure over its children's closures."""

    def __init__(
        self, functions: Mapping[str, Callable[..., Any]], local_functions: frozenset[str]
    ) -> None:
        super().__init__()
        self.functions = functions
        self.local_functions = local_functions

    # literals and names
    def words(self, *parts: Token) -> str:
        return _joined_name(parts)

    def number(self, token: Token) -> Evaluator:
        value = float(token) if "." in token else int(token)
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

    def temporal(self, token: Token) -> Evaluator:
        value = _temporal_literal(_unescape(token))
        return lambda scope: value

    def name(self, key: str) -> Evaluator:
        def lookup(scope: Mapping[str, Any]) -> Any:
            try:
                return scope[key]
            except KeyError:
                return None

        return lookup

    def input_value(self) -> Evaluator:
        return _input

    def path(self, base: Evaluator, key: str) -> Evaluator:
        def lookup(scope: Mapping[str, Any]) -> Any:
            return member(base(scope), key)

        return lookup

    def filter(self, base: Evaluator, selector: Evaluator) -> Evaluator:
        def filtered(scope: Mapping[str, Any]) -> Any:
            items = base(scope)
            if items is None:
                return None
            probe = selector(scope)
            if is_number(probe):
                return _index(items, probe)
            if not isinstance(items, list):
                items = [items]

            current().spend(len(items))
            return [
                item
                for item in items
                if selector(
                    Scope(
                        {**item, "item": item} if isinstance(item, Mapping) else {"item": item},
                        scope,
                    )
                )
                is True
            ]

        return filtered

    # collections
    def list(self, *items: Evaluator | None) -> Evaluator:
        parts = [item for item in items if item is not None]
        return lambda scope: current().admit([part(scope) for part in parts])

    def entry(self, key: str, value: Evaluator) -> tuple[str, Evaluator]:
        return _entry_key(key), value

    def context(self, *entries: tuple[str, Evaluator] | None) -> Evaluator:
        pairs = [entry for entry in entries if entry is not None]

        def build(scope: Mapping[str, Any]) -> dict[str, Any]:
            result: dict[str, Any] = {}
            inner = Scope({}, scope)  # later entries see earlier ones
            for key, value in pairs:
                inner[key] = result[key] = value(inner)
            return current().admit(result)

        return build

    def _range(self, start: Evaluator, end: Evaluator, low: bool, high: bool) -> Evaluator:
        return lambda scope: Range(start(scope), end(scope), low, high)

    def closed_range(self, start: Evaluator, end: Evaluator) -> Evaluator:
        return self._range(start, end, True, True)

    def closed_open_range(self, start: Evaluator, end: Evaluator) -> Evaluator:
        return self._range(start, end, True, False)

    def open_closed_range(self, start: Evaluator, end: Evaluator) -> Evaluator:
        return self._range(start, end, False, True)

    def open_range(self, start: Evaluator, end: Evaluator) -> Evaluator:
        return self._range(start, end, False, False)

    # arithmetic
    def _binary(self, op: Callable[[Any, Any], Any], a: Evaluator, b: Evaluator) -> Evaluator:
        return lambda scope: op(a(scope), b(scope))

    def add(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(add, a, b)

    def sub(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(subtract, a, b)

    def mul(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(multiply, a, b)

    def div(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(divide, a, b)

    def pow(self, a: Evaluator, b: Evaluator) -> Evaluator:
        return self._binary(power, a, b)

    def neg(self, a: Evaluator) -> Evaluator:
        return lambda scope: negate(a(scope))

    # comparisons and logic
    def compare(self, a: Evaluator, op: Token, b: Evaluator) -> Evaluator:
        return self._binary(COMPARISONS[str(op)], a, b)

    def between(self, value: Evaluator, low: Evaluator, high: Evaluator) -> Evaluator:
        def inside(scope: Mapping[str, Any]) -> bool | None:
            x = value(scope)
            return conjunction(greater_equal(x, low(scope)), less_equal(x, high(scope)))

        return inside

    def in_(self, value: Evaluator, candidates: Evaluator) -> Evaluator:
        return self._binary(matches, value, candidates)

    def in_compare(self, value: Evaluator, op: Token, bound: Evaluator) -> Evaluator:
        return self._binary(COMPARISONS[str(op)], value, bound)

    def and_(self, a: Evaluator, b: Evaluator) -> Evaluator:
        def both(scope: Mapping[str, Any]) -> bool | None:
            first = a(scope)
            return False if first is False else conjunction(first, b(scope))

        return both

    def or_(self, a: Evaluator, b: Evaluator) -> Evaluator:
        def either(scope: Mapping[str, Any]) -> bool | None:
            first = a(scope)
            return True if first is True else disjunction(first, b(scope))

        return either

    def if_expr(self, condition: Evaluator, then: Evaluator, otherwise: Evaluator) -> Evaluator:
        return lambda scope: then(scope) if condition(scope) is True else otherwise(scope)

    # iteration
    def iteration(self, name: Token, source: Evaluator) -> tuple[str, Evaluator]:
        return str(name), source

    def range_iteration(
        self, name: Token, start: Evaluator, end: Evaluator
    ) -> tuple[str, Evaluator]:
        return str(name), lambda scope: integer_range(start(scope), end(scope))

    binding = iteration

    def for_expr(self, *parts: Any) -> Evaluator:
        *iterations, body = parts

        def collected(scope: Mapping[str, Any]) -> list[Any] | None:
            results = _collect(iterations, body, scope)
            return None if results is None else current().admit(results)

        return collected

    def some(self, *parts: Any) -> Evaluator:
        *bindings, condition = parts

        def satisfied(scope: Mapping[str, Any]) -> bool | None:
            results = _collect(bindings, condition, scope)
            return None if results is None else any(result is True for result in results)

        return satisfied

    def every(self, *parts: Any) -> Evaluator:
        *bindings, condition = parts

        def satisfied(scope: Mapping[str, Any]) -> bool | None:
            results = _collect(bindings, condition, scope)
            return None if results is None else all(result is True for result in results)

        return satisfied

    def function_def(self, *parts: Any) -> Evaluator:
        *names, body = parts
        params = tuple(str(name) for name in names if name is not None)
        return lambda scope: UserFunction(params, body, scope)

    # calls
    def positional_arguments(self, *arguments: Evaluator) -> Arguments:
        return [*arguments]

    def named_argument(self, name: str, value: Evaluator) -> tuple[str, Evaluator]:
        return name, value

    def named_arguments(self, *arguments: tuple[str, Evaluator]) -> dict[str, Evaluator]:
        named = dict(arguments)
        if len(named) != len(arguments):
            raise ExpressionError("a named argument is given twice")
        return named

    def call(self, name: str, arguments: Arguments | None) -> Evaluator:
        function_name = " ".join(name.split())
        if isinstance(arguments, dict):
            return self._call_named(function_name, arguments)
        arguments = arguments or []
        function = self.functions.get(function_name)
        if function is None:
            if function_name not in self.local_functions:
                raise ExpressionError(f"unknown FEEL function '{function_name}'")
            return self._call_local(function_name, arguments)
        _check_arity(function_name, function, len(arguments))
        if function_name in BUILTINS and function is BUILTINS[function_name]:
            return _builtin_call(function, arguments)
        return _custom_call(function_name, function, arguments)

    def _call_named(self, name: str, named: dict[str, Evaluator]) -> Evaluator:
        """A call with named arguments, mapped onto positions once, at compile time."""
        function = self.functions.get(name)
        if function is None:
            if name not in self.local_functions:
                raise ExpressionError(f"unknown FEEL function '{name}'")
            return self._call_local(name, named)
        if not isinstance(function, Builtin) or function is not BUILTINS.get(name):
            return _custom_call(name, function, named)
        placeholders = function.bind({key: key for key in named})
        if placeholders is None:
            raise ExpressionError(
                f"function '{name}' has no parameters named {', '.join(sorted(named))}"
            )
        return _builtin_call(
            function,
            [named[slot] if slot in named else _constant(slot) for slot in placeholders],
        )

    def _call_local(self, name: str, arguments: Arguments) -> Evaluator:
        def called(scope: Mapping[str, Any]) -> Any:
            function = scope.get(name)
            if not isinstance(function, UserFunction):
                raise ExpressionError(f"'{name}' is not a function")
            if isinstance(arguments, dict):
                if set(arguments) != set(function.params):
                    return None
                return function(*(arguments[param](scope) for param in function.params))
            return function(*(argument(scope) for argument in arguments))

        return called

    # unary tests
    def any_input(self) -> Evaluator:
        return lambda scope: True

    def positive_tests(self, *tests: Evaluator) -> Evaluator:
        if len(tests) == 1:
            return tests[0]
        return lambda scope: any(test(scope) for test in tests)

    def unary_tests(self, tests: Evaluator) -> Evaluator:
        return tests

    def negated_tests(self, _not: Token, tests: Evaluator) -> Evaluator:
        return lambda scope: not tests(scope)

    def compare_test(self, op: Token, bound: Evaluator) -> Evaluator:
        compare = COMPARISONS[str(op)]
        return lambda scope: compare(_input(scope), bound(scope)) is True

    def expression_test(self, expression: Evaluator) -> Evaluator:
        return lambda scope: _truth(expression(scope), _input(scope))


def _collect(
    bindings: list[tuple[str, Evaluator]], body: Evaluator, scope: Mapping[str, Any]
) -> list[Any] | None:
    """Evaluate ``body`` for every combination of the bindings; null if one is not a list."""
    results: list[Any] = []

    def walk(level: int, inner: Mapping[str, Any]) -> bool:
        if level == len(bindings):
            results.append(body(inner))
            return True
        name, source = bindings[level]
        values = source(inner)
        if not isinstance(values, list):
            return False
        current().spend(len(values))
        return all(walk(level + 1, Scope({name: value}, inner)) for value in values)

    return results if walk(0, scope) else None


def _joined_name(parts: Sequence[Token | Tree[Token]]) -> str:
    """A name as FEEL reads it: its words joined by one space, or the text between backticks."""
    first = parts[0]
    if isinstance(first, Token) and first.type == "QUOTED_NAME":
        return str(first)[1:-1]
    return " ".join(str(part) for part in parts)


def _entry_key(key: str) -> str:
    """A context key as written: a name (words joined by one space) or a string literal."""
    return _unescape(key) if isinstance(key, Token) and key.type == "STRING" else str(key)


def _constant(value: Any) -> Evaluator:
    return lambda scope: value


def _check_arity(name: str, function: Callable[..., Any], count: int) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return  # a built-in without introspection: let the call decide
    try:
        signature.bind(*([None] * count))
    except TypeError as exc:
        raise ExpressionError(f"function '{name}' does not take {count} argument(s)") from exc


def _builtin_call(function: Callable[..., Any], arguments: list[Evaluator]) -> Evaluator:
    def called(scope: Mapping[str, Any]) -> Any:
        values = [argument(scope) for argument in arguments]
        try:
            result = function(*values)
        except _NULL_ON:
            return None
        return current().admit(result) if isinstance(result, list | Mapping) else result

    return called


def _custom_call(
    name: str,
    function: Callable[..., Any],
    arguments: Arguments,
) -> Evaluator:
    def called(scope: Mapping[str, Any]) -> Any:
        try:
            if isinstance(arguments, dict):
                return function(**{key: value(scope) for key, value in arguments.items()})
            return function(*(argument(scope) for argument in arguments))
        except ExpressionError:
            raise
        except Exception as exc:
            raise ExpressionError(f"function '{name}' failed: {exc}") from exc

    return called


def _local_function_names(tree: Tree[Token]) -> frozenset[str]:
    """Names that may hold a user-defined function: context entries defining one, parameters."""
    names: set[str] = set()
    for node in _subtrees(tree):
        if node.data == "entry":
            key, value = node.children
            if isinstance(value, Tree) and value.data == "function_def":
                names.add(_joined_name(key.children) if isinstance(key, Tree) else _entry_key(key))
        elif node.data == "function_def":
            names.update(str(child) for child in node.children[:-1] if child is not None)
    return frozenset(names)


def _subtrees(tree: Tree[Token]) -> Iterator[Tree[Token]]:
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in node.children if isinstance(child, Tree))


def _syntax_error(text: str, error: UnexpectedInput) -> ExpressionError:
    if isinstance(error, UnexpectedEOF):
        return ExpressionError("FEEL syntax error: the expression ends too early")
    if isinstance(error, UnexpectedCharacters):
        return ExpressionError(
            f"FEEL syntax error at column {error.column}: "
            f"unexpected character {text[error.pos_in_stream]!r}"
        )
    token = getattr(error, "token", None)
    if token is None or token.type == "$END":
        return ExpressionError("FEEL syntax error: the expression ends too early")
    return ExpressionError(
        f"FEEL syntax error at column {error.column}: unexpected {str(token)[:40]!r}"
    )


class FeelCompiler:
    """Compiles FEEL expressions and unary tests, with the engine's extra functions in scope."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self.functions: dict[str, Callable[..., Any]] = {**BUILTINS, **(functions or {})}

    def expression(self, text: str) -> Evaluator:
        """An evaluator for a FEEL expression (a leading Camunda 8 ``=`` is dropped)."""
        body = text.strip()
        return budgeted(self._compile(body[1:] if body.startswith("=") else body, "expression"))

    def unary_tests(self, text: str) -> Evaluator:
        """An evaluator of a DMN input entry, true when the input (``?``) passes it."""
        body = text.strip()
        if not body:
            return lambda scope: True
        return budgeted(self._compile(body, "unary_tests"))

    def _compile(self, text: str, start: str) -> Evaluator:
        try:
            tree = _parser().parse(text, start=start)
            compiler = _Compiler(self.functions, _local_function_names(tree))
            evaluator: Evaluator = compiler.transform(tree)
        except UnexpectedInput as exc:
            raise _syntax_error(text, exc) from None
        except VisitError as exc:
            if isinstance(exc.orig_exc, ExpressionError):
                raise exc.orig_exc from None
            if isinstance(exc.orig_exc, RecursionError):
                raise ExpressionError("the expression is nested too deeply") from None
            raise
        except RecursionError:
            raise ExpressionError("the expression is nested too deeply") from None
        return evaluator
