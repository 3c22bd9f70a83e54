"""What one FEEL evaluation may spend: loop steps, and the size of the values it builds.

FEEL has no time limit of its own, and a short expression can describe a huge value: each entry
of ``{a: [x, x], b: [a, a], c: [b, b], ...}`` doubles the value's size while the memory it takes
grows by one list, so the bomb only goes off later, when something walks the value (a variable
check, a serializer, ``string()``). So every evaluation runs under an ``EvaluationBudget``:
loops and function calls spend steps, and every list or context the evaluation builds is
*admitted*: its size as a tree (shared parts counted each time they appear, as a serializer will
see them) is computed from its children's sizes, remembered, and checked against the limits in
``limits.py``. Admission costs one dictionary lookup per child, so building values stays linear.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from retailflow.expressions.limits import MAX_ITEMS, MAX_LOOP_STEPS, MAX_TEXT
from retailflow.model import ExpressionError

_T = TypeVar("_T")


class EvaluationBudget:
    """Steps left, and the known sizes of the lists and contexts seen so far."""

    __slots__ = ("sizes", "steps_left")

    def __init__(self) -> None:
        self.steps_left = MAX_LOOP_STEPS
        # id -> (value, items, characters); the value is kept so its id is not reused
        self.sizes: dict[int, tuple[Any, int, int]] = {}

    def spend(self, steps: int) -> None:
        """Charge loop iterations or function calls; refuse once the budget is gone."""
        self.steps_left -= steps
        if self.steps_left < 0:
            raise ExpressionError(
                f"the expression iterates more than {MAX_LOOP_STEPS} times; refused"
            )

    def admit(self, value: _T) -> _T:
        """``value`` itself, once its size (as a tree) is known to be within the limits."""
        items, characters = self._size(value)
        if items > MAX_ITEMS:
            raise ExpressionError(f"a value of more than {MAX_ITEMS} items is refused")
        if characters > MAX_TEXT:
            raise ExpressionError(f"a value of more than {MAX_TEXT} characters is refused")
        return value

    def _size(self, value: Any) -> tuple[int, int]:
        kind = type(value)
        if kind is str:
            return 1, len(value)
        if kind is not list and kind is not dict and not isinstance(value, list | Mapping):
            return 1, 0
        known = self.sizes.get(id(value))
        if known is not None and known[0] is value:
            return known[1], known[2]
        items, characters = 1, 0
        if kind is dict or (kind is not list and isinstance(value, Mapping)):
            characters += sum(len(key) for key in value if type(key) is str)
            children: Any = value.values()
        else:
            children = value
        for child in children:
            kind = type(child)
            if kind is str:
                items += 1
                characters += len(child)
            elif kind is int or kind is float or kind is bool or child is None:
                items += 1
            elif kind is list or kind is dict or isinstance(child, list | Mapping):
                child_items, child_characters = self._size(child)
                items += child_items
                characters += child_characters
                if items > MAX_ITEMS or characters > MAX_TEXT:
                    break  # no need to walk further: admit() refuses it
            else:
                items += 1
        self.sizes[id(value)] = (value, items, characters)
        return items, characters


def check_text(length: int) -> None:
    """Refuse, before building it, a string longer than the text limit."""
    if length > MAX_TEXT:
        raise ExpressionError(f"a string of more than {MAX_TEXT} characters is refused")


def check_items(count: int) -> None:
    """Refuse, before building it, a list longer than the item limit."""
    if count > MAX_ITEMS:
        raise ExpressionError(f"a list of more than {MAX_ITEMS} items is refused")


_running = threading.local()
"""The budget of the evaluation running on this thread; nested evaluations (a FEEL function
value called back from a built-in such as ``sort``) draw on it, so nesting cannot multiply
the work."""


def current() -> EvaluationBudget:
    """The running evaluation's budget (a fresh one when called outside any evaluation)."""
    budget: EvaluationBudget | None = getattr(_running, "budget", None)
    return budget if budget is not None else EvaluationBudget()


def budgeted(evaluator: Callable[[Mapping[str, Any]], _T]) -> Callable[[Mapping[str, Any]], _T]:
    """``evaluator`` running under a budget of its own, or under the one already running on
    this thread (a FEEL function called back from a built-in, a nested evaluation).

    Values it merely passes through, such as a variable read whole, were not built by FEEL and
    are not its to refuse. This wraps every evaluation, so it is kept to a thread-local read.
    """

    def evaluate(scope: Mapping[str, Any]) -> _T:
        if getattr(_running, "budget", None) is not None:
            return evaluator(scope)
        _running.budget = EvaluationBudget()
        try:
            return evaluator(scope)
        finally:
            _running.budget = None

    return evaluate
