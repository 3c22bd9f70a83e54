"""``ExpressionEngine``: the one door every condition, mapping, script and input entry goes through.

It picks the dialect from the text's prefix, compiles once per (dialect, text) and keeps the
compiled closure, so the hot path of a gateway condition is a dict lookup and a closure call.
Whatever goes wrong comes out as an ``ExpressionError`` naming the element and the expression.

Every evaluation is bounded here or below: in time, by the Python sandbox's ``TimeBudget`` (code
that loops or makes more than a few calls), FEEL's step budget, and JUEL having neither loops
nor calls; in size, by the dialects' operator guards while it runs and, once it is done, by
refusing a value too large to store or walk (``value_size``) before it reaches the process
data. A Python script's variables are sized the same way by the sandbox.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from retailflow.expressions.dialect import Dialect, detect_dialect
from retailflow.expressions.python_sandbox import PythonSandbox
from retailflow.expressions.value_size import SCALAR_TYPES, estimated_size, refuse_oversized
from retailflow.model import ExpressionError

if TYPE_CHECKING:
    from retailflow.expressions.feel import FeelCompiler

Evaluator = Callable[[Mapping[str, Any]], Any]
Script = Callable[[Mapping[str, Any]], dict[str, Any]]
_Compiled = TypeVar("_Compiled")

_CACHE_SIZE = 4096
"""Compiled forms kept per kind; a deployment has far fewer distinct texts. When full, the cache
starts over (simpler than LRU bookkeeping on the hot path, and just as good for this use)."""


def _located(error: ExpressionError, text: str, element_id: str | None) -> ExpressionError:
    """Attach the element and expression to an error raised deep inside an evaluator."""
    if error.expression is not None or error.element_id is not None:
        return error
    return ExpressionError(str(error), expression=text, element_id=element_id)


_MAX_MESSAGE = 2000
"""Characters of an exception's message an ``ExpressionError`` repeats; a script's
``raise ValueError(big)`` must not turn into rendering ``big``."""


def _message(error: Exception) -> str:
    if estimated_size(error.args, _MAX_MESSAGE) > _MAX_MESSAGE:
        return "(a message too large to show)"
    return str(error)[:_MAX_MESSAGE]


def _failure(error: Exception, text: str, element_id: str | None) -> ExpressionError:
    if isinstance(error, ExpressionError):
        return _located(error, text, element_id)
    if isinstance(error, RecursionError):
        reason = "recursion too deep"
    elif isinstance(error, MemoryError):
        reason = "out of memory"
    else:
        reason = f"{type(error).__name__}: {_message(error)}"
    return ExpressionError(f"evaluation failed: {reason}", expression=text, element_id=element_id)


def _remember(cache: dict[Any, _Compiled], key: Any, compiled: _Compiled) -> _Compiled:
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = compiled
    return compiled


class ExpressionEngine:
    """Sandboxed evaluation of FEEL (``=...``), JUEL (``${...}``) and restricted Python.

    ``functions`` are extra callables visible by name to FEEL and Python expressions (single-word
    names); they run unsandboxed, so only trusted code belongs there.
    """

    def __init__(
        self,
        *,
        default_dialect: Dialect = Dialect.PYTHON,
        script_timeout: float = 2.0,
        functions: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        self.default_dialect = default_dialect
        self.script_timeout = script_timeout
        self._functions = functions
        self._python = PythonSandbox(script_timeout, functions)
        self._expressions: dict[tuple[Dialect | None, str], Evaluator] = {}
        self._scripts: dict[str, Script] = {}
        self._unary_tests: dict[str, Evaluator] = {}

    @functools.cached_property
    def _feel(self) -> FeelCompiler:
        """The FEEL compiler, built with the first FEEL expression: its lark grammar is not
        loaded by an engine whose processes use none (``import retailflow`` stays light)."""
        from retailflow.expressions.feel import FeelCompiler

        return FeelCompiler(self._functions)

    def check(
        self, text: str, *, dialect: Dialect | None = None, element_id: str | None = None
    ) -> None:
        """Parse (and keep) an expression; ``ExpressionError`` if it won't parse or is refused."""
        if (dialect, text) not in self._expressions:
            self._compile_expression(text, dialect, element_id)

    def check_unary_tests(self, test: str, *, element_id: str | None = None) -> None:
        """Parse (and keep) a DMN input entry, for validation when a decision is deployed."""
        if test not in self._unary_tests:
            self._compile_unary_tests(test, element_id)

    def evaluate(
        self,
        text: str,
        variables: Mapping[str, Any],
        *,
        dialect: Dialect | None = None,
        element_id: str | None = None,
    ) -> Any:
        """The value of an expression; unknown FEEL names are null, unknown JUEL names fail."""
        evaluator = self._expressions.get((dialect, text))
        if evaluator is None:
            evaluator = self._compile_expression(text, dialect, element_id)
        try:
            value = evaluator(variables)
            if type(value) not in SCALAR_TYPES:  # a condition's value needs no sizing
                refuse_oversized(value, "the expression's value")
        except Exception as error:
            raise _failure(error, text, element_id) from error
        return value

    def run_script(
        self,
        script: str,
        variables: dict[str, Any],
        *,
        dialect: Dialect | None = None,
        element_id: str | None = None,
    ) -> dict[str, Any]:
        """Run a script; returns the variables it created or changed (plain data only).

        A FEEL or JUEL "script" is an expression: it is evaluated (so errors surface) and
        changes nothing; the caller assigns its result to the task's result variable.
        """
        resolved = dialect or detect_dialect(script, self.default_dialect)
        if resolved is not Dialect.PYTHON:
            self.evaluate(script, variables, dialect=resolved, element_id=element_id)
            return {}
        runner = self._scripts.get(script)
        if runner is None:
            try:
                runner = _remember(self._scripts, script, self._python.script(script))
            except ExpressionError as error:
                raise _located(error, script, element_id) from None
        try:
            return runner(variables)
        except Exception as error:
            raise _failure(error, script, element_id) from error

    def unary_test(
        self, test: str, value: Any, variables: Mapping[str, Any], *, element_id: str | None = None
    ) -> bool:
        """Whether ``value`` passes a DMN input entry (FEEL unary tests, or JUEL ``${...}``)."""
        evaluator = self._unary_tests.get(test)
        if evaluator is None:
            evaluator = self._compile_unary_tests(test, element_id)
        try:
            return evaluator(_input_scope(value, variables)) is True
        except Exception as error:
            raise _failure(error, test, element_id) from error

    def _compile_expression(
        self, text: str, dialect: Dialect | None, element_id: str | None
    ) -> Evaluator:
        resolved = dialect or detect_dialect(text, self.default_dialect)
        try:
            if resolved is Dialect.FEEL:
                evaluator = self._feel.expression(text)
            elif resolved is Dialect.JUEL:
                from retailflow.expressions.juel import compile_juel  # loads lark: see _feel

                evaluator = compile_juel(text)
            else:
                evaluator = self._python.expression(text)
        except ExpressionError as error:
            raise _located(error, text, element_id) from None
        return _remember(self._expressions, (dialect, text), evaluator)

    def _compile_unary_tests(self, test: str, element_id: str | None) -> Evaluator:
        try:
            if detect_dialect(test, Dialect.FEEL) is Dialect.JUEL:
                from retailflow.expressions.juel import compile_juel  # loads lark: see _feel

                evaluator = _juel_unary_test(compile_juel(test))
            else:
                evaluator = self._feel.unary_tests(test)
        except ExpressionError as error:
            raise _located(error, test, element_id) from None
        return _remember(self._unary_tests, test, evaluator)


def _input_scope(value: Any, variables: Mapping[str, Any]) -> Mapping[str, Any]:
    """The scope a DMN input entry sees: the input's value as ``?`` over the variables."""
    from retailflow.expressions.feel import Scope

    return Scope({"?": value}, variables)


def _juel_unary_test(expression: Evaluator) -> Evaluator:
    """Camunda 7 input entries in JUEL: a boolean result decides, anything else must equal."""
    from retailflow.expressions.juel import equals

    def test(scope: Mapping[str, Any]) -> bool:
        result = expression(scope)
        return result if type(result) is bool else equals(scope["?"], result)

    return test
