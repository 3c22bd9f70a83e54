"""What one evaluation of sandboxed Python may build in all.

Each step is bounded on its own (``limits``), but a loop repeats steps:
``[[0] * 10**5 for i in range(10**6)]`` built a gigabyte in the two seconds its time budget
allowed, and ``[tuple(range(1000)) for i in range(10**6)]`` 1.8 GB. The guards that build charge
what they build to the allowance of the evaluation running on this thread, as it grows: the
sequences operators build, the collections ``list()``, ``tuple()``, ``set()``, ``dict()`` and
``sorted()`` return, every item a comprehension, ``append``, ``insert``, ``add`` or an item
assignment adds. Past ``MAX_BUILT_BYTES`` the next one is refused.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Sized
from types import TracebackType

from retailflow.expressions.limits import ITEM_BYTES, MAX_BUILT_BYTES
from retailflow.model import ExpressionError

_running = threading.local()
"""The allowance of the evaluation running on this thread, if it has one."""


class BuildAllowance:
    """``with BuildAllowance():`` around one evaluation; nested ones restore the outer on exit."""

    __slots__ = ("left", "outer")

    def __init__(self) -> None:
        self.left = MAX_BUILT_BYTES
        self.outer: BuildAllowance | None = None

    def take(self, size: int) -> None:
        """Count ``size`` bytes against this allowance; refuse the step that goes past it."""
        self.left -= size
        if self.left < 0:
            raise ExpressionError(
                f"the code builds more than {MAX_BUILT_BYTES // 2**20} MB in all (repetitions, "
                "concatenations, padding, joins, collections, items added in loops); refused"
            )

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
    if allowance is not None:
        allowance.take(size)


def charge_item() -> None:
    """Count one item added to a container (``append``, ``d[k] = v``): a slot and, usually, a
    new object in it. ``charge`` inlined: it runs once per item."""
    allowance: BuildAllowance | None = getattr(_running, "allowance", None)
    if allowance is not None:
        allowance.take(ITEM_BYTES)


def sequence_bytes(value: object) -> int:
    """What a built sequence costs: a character or byte 1, a list or tuple slot 8."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple):
        return 8 * len(value)
    return 0


_HELD = (list, tuple, set, frozenset, dict, str, bytes)
"""Sources whose items already exist: a collection built from one shares them."""


def collection_bytes(result: object, source: Iterable[object] | None) -> int:
    """What a collection built by ``list()``, ``tuple()``, ``set()``, ``dict()`` or ``sorted()``
    costs: its own table and, when it was filled from an iterator (``range``, ``zip``, a
    generator) rather than copied from a collection, a new object per item."""
    own = sys.getsizeof(result)
    if source is None or isinstance(source, _HELD) or not isinstance(result, Sized):
        return own
    return own + (ITEM_BYTES - 8) * len(result)
