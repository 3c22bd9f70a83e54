"""SpiffWorkflow-style Python expressions and scripts, compiled once and run in the sandbox.

Expressions compile with ``compile_restricted_eval`` and scripts with ``compile_restricted_exec``
under ``SandboxPolicy``; both run against a fresh globals dict holding the variables, the
engine's functions and the guards (merged last, so no variable can replace a guard). Scripts,
and expressions that loop or make more than a few calls, run under a ``TimeBudget`` and a
``BuildAllowance``; the others (``amount > 100``, ``len(lines) > 2``) are bounded by the size
guards alone.
"""

from __future__ import annotations

import ast
import textwrap
import warnings
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec

from retailflow.expressions.build_allowance import BuildAllowance
from retailflow.expressions.python_guards import GUARDS
from retailflow.expressions.python_policy import SandboxPolicy, needs_budget
from retailflow.expressions.time_budget import TimeBudget
from retailflow.expressions.value_size import refuse_oversized
from retailflow.model import ExpressionError

Evaluator = Callable[[Mapping[str, Any]], Any]
Script = Callable[[Mapping[str, Any]], dict[str, Any]]


def _is_helper(value: Any) -> bool:
    """A function, class or module a script made for its own use: not a variable."""
    return callable(value) or isinstance(value, ModuleType)


def _refusal(errors: tuple[str, ...]) -> ExpressionError:
    """RestrictedPython says ``Line 1: <reason>``; lead with the reason."""
    reasons = []
    for error in errors:
        where, _, reason = error.partition(": ")
        reasons.append(f"{reason} ({where.lower()})" if reason else error)
    return ExpressionError("refused by the Python sandbox: " + "; ".join(reasons))


def _parse(text: str, mode: str) -> ast.AST:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes and the like: not our business
            return ast.parse(text, filename="<sandbox>", mode=mode)
    except SyntaxError as exc:
        raise ExpressionError(f"Python syntax error at line {exc.lineno}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"Python source refused: {exc}") from None


def _compile(tree: ast.AST, mode: str) -> Any:
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = compiler(tree, filename="<sandbox>", policy=SandboxPolicy)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"Python source refused: {exc}") from None
    if result.errors:
        raise _refusal(result.errors)
    return result.code


class PythonSandbox:
    """Compiles Python expressions and scripts into callables that run only in the sandbox."""

    def __init__(
        self, script_timeout: float, functions: Mapping[str, Callable[..., Any]] | None = None
    ) -> None:
        self.script_timeout = script_timeout
        self.functions = dict(functions or {})

    def _scope(self, variables: Mapping[str, Any], budget: TimeBudget | None) -> dict[str, Any]:
        scope = {**variables, **self.functions, **GUARDS}
        if budget is not None:
            scope.update(budget.guards())
        return scope

    def expression(self, text: str) -> Evaluator:
        """An evaluator of one Python expression (``amount > 100``)."""
        tree = _parse(text.strip(), "eval")
        budgeted = needs_budget(tree)
        code = _compile(tree, "eval")
        scope = self._scope
        timeout = self.script_timeout

        def evaluate(variables: Mapping[str, Any]) -> Any:
            if not budgeted:
                return eval(code, scope(variables, None))  # noqa: S307 - restricted bytecode
            with (
                BuildAllowance() as allowance,
                TimeBudget(timeout, "expression", allowance) as budget,
            ):
                return eval(code, scope(variables, budget))  # noqa: S307

        return evaluate

    def script(self, text: str) -> Script:
        """A runner of a script; it returns the variables the script created or changed."""
        code = _compile(_parse(textwrap.dedent(text), "exec"), "exec")
        timeout = self.script_timeout

        def run(variables: Mapping[str, Any]) -> dict[str, Any]:
            with BuildAllowance() as allowance, TimeBudget(timeout, "script", allowance) as budget:
                scope = self._scope(variables, budget)
                exec(code, scope)  # noqa: S102 - restricted bytecode
            return self._changes(scope, variables)

        return run

    @staticmethod
    def _changes(scope: dict[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
        """New or rebound names, plus containers (they may have changed in place); the
        script's helpers (functions, classes, modules) are left out. A value too large to store
        (see ``value_size``) is refused before anything walks it item by item; every other
        value is returned, whatever its type, for the engine to refuse by name if it is not a
        variable type (docs/api.md, "Variable types"), never dropped unseen."""
        changes = {}
        for name, value in scope.items():
            if name.startswith("_"):
                continue
            if (
                name in before
                and before[name] is value
                and not isinstance(value, list | dict | set)
            ):
                continue
            refuse_oversized(value, f"the script's variable {name!r}")
            if not _is_helper(value):
                changes[name] = value
        return changes
