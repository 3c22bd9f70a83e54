"""A wall-clock limit for sandboxed Python, checked by the sandboxed code itself.

Threads cannot be killed, signals only reach the main thread, and a ``sys.settrace`` hook is
not called for a one-line ``while True: pass`` in CPython 3.11 (nor after it has once raised).
So the deadline is checked cooperatively: ``python_policy`` puts a ``_tick_()`` call at the head
of every ``while`` body, function body and lambda and before every call, and every ``for`` loop
and comprehension iterates through ``_getiter_``, which ticks per item (a comprehension's
innermost loop through ``_builditer_``, which also charges the item it adds to the result to the
evaluation's ``BuildAllowance``). Past the deadline every
tick raises, so no loop or recursion can go on, even inside a catch-all ``except:``. A single
long-running C call (a huge ``sorted``) is not interruptible; the size guards in
``python_guards`` keep those small.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any

from retailflow.expressions.build_allowance import BuildAllowance
from retailflow.expressions.limits import ITEM_BYTES
from retailflow.model import ExpressionError


class TimeLimitExceeded(BaseException):
    """Raised into the sandboxed code; a ``BaseException`` so ``except Exception`` misses it."""


def no_deadline() -> None:
    """The tick of code that runs without a budget (no loops, a few calls): it never expires."""


class TimeBudget:
    """``with TimeBudget(2.0, "script", allowance) as budget:`` around code compiled by the
    sandbox, with ``budget.guards()`` in its globals; raises ``ExpressionError`` on overrun."""

    __slots__ = ("allowance", "deadline", "expired", "seconds", "what")

    def __init__(self, seconds: float, what: str, allowance: BuildAllowance) -> None:
        self.seconds = seconds
        self.what = what
        self.allowance = allowance
        self.deadline = 0.0  # set on entering: a budget starts when the code does
        self.expired = False

    def guards(self) -> dict[str, Any]:
        """The names the policy's inserted checks call."""
        return {"_tick_": self.tick, "_getiter_": self.iterate, "_builditer_": self.building}

    def tick(self) -> None:
        """Raise once the deadline has passed."""
        if time.monotonic() > self.deadline:
            self.expired = True
            raise TimeLimitExceeded

    def iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """``iter(iterable)`` that ticks before every item."""
        for item in iterable:
            self.tick()
            yield item

    def building(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """``iterate`` for a comprehension's innermost loop: each item adds one to the result
        (``[[j for j in range(1000)] for i in range(10**6)]``), charged as it is added."""
        take = self.allowance.take
        for item in iterable:
            self.tick()
            take(ITEM_BYTES)
            yield item

    def __enter__(self) -> TimeBudget:
        self.deadline = time.monotonic() + self.seconds
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Also when the code swallowed the exception with a bare `except:` and then finished.
        if self.expired or isinstance(error, TimeLimitExceeded):
            raise ExpressionError(f"{self.what} exceeded its {self.seconds} s time limit") from None
