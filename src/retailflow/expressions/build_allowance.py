"""What one evaluation of sandboxed Python may build in all.

Each step is bounded on its own (``limits``), but a loop repeats steps:
``[[0] * 10**5 for i in range(10**6)]`` built a gigabyte in the two seconds its time budget
allowed. The guards that build sequences charge the size of what they build to the allowance of
the evaluation running on this thread; past ``MAX_BUILT_BYTES`` the next one is refused.
"""

from __future__ import annotations

import threading
from types import TracebackType

from retailflow.expressions.limits import MAX_BUILT_BYTES
from retailflow.model import ExpressionError

_running = threading.local()
"""The allowance of the evaluation running on this thread, if it has one."""


class BuildAllowance:
    """``with BuildAllowance():`` around one evaluation; nested ones restore the outer on exit."""

    __slots__ = ("left", "outer")

    def __init__(self) -> None:
        self.left = MAX_BUILT_BYTES
        self.outer: BuildAllowance | None = None

    def __enter__(self) -> BuildAllowance:
        self.outer = getattr(_running, "allowance", None)
        _running.allowance = self
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _running.allowance = self.outer


def charge(size: int) -> None:
    """Count ``size`` bytes against the running evaluation's allowance, if any."""
    allowance: BuildAllowance | None = getattr(_running, "allowance", None)
    if allowance is None:
        return
    allowance.left -= size
    if allowance.left < 0:
        raise ExpressionError(
            f"the code builds more than {MAX_BUILT_BYTES // 2**20} MB in all (repetitions, "
            "concatenations, padding, joins); refused"
        )


def sequence_bytes(value: object) -> int:
    """What a built sequence costs: a character or byte 1, a list or tuple slot 8."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple):
        return 8 * len(value)
    return 0
