"""Room for SpiffWorkflow's recursion: it parses a process, and walks an instance's task tree,
one Python frame per element along a path, so a long straight chain (2,000 tasks) overflows the
default recursion limit. Such work runs here, in a thread with a large stack and a recursion
limit to match, instead of failing with a ``RecursionError``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

STACK_BYTES = 256 * 1024 * 1024
"""Virtual memory reserved for the thread's stack; only what the recursion touches is used."""
RECURSION_LIMIT = 100_000
"""Frames allowed in that thread: enough for paths of tens of thousands of elements."""

_limit_lock = threading.Lock()
_deep_calls = 0


def with_deep_stack(function: Callable[[], T]) -> T:
    """``function()``, run where deep recursion fits; its result, or its exception re-raised."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(function())
        except BaseException as error:  # re-raised in the caller's thread
            failure.append(error)

    _raise_limit()
    try:
        with _limit_lock:
            previous = threading.stack_size(STACK_BYTES)
            try:
                thread = threading.Thread(target=target, name="retailflow-deep-stack")
                thread.start()
            finally:
                threading.stack_size(previous)
        thread.join()
    finally:
        _restore_limit()
    if failure:
        raise failure[0]
    return outcome[0]


_default_limit = sys.getrecursionlimit()


def _raise_limit() -> None:
    # The limit is per interpreter: raise it while any deep call runs, restore it after the last.
    global _deep_calls
    with _limit_lock:
        if _deep_calls == 0:
            sys.setrecursionlimit(max(RECURSION_LIMIT, _default_limit))
        _deep_calls += 1


def _restore_limit() -> None:
    global _deep_calls
    with _limit_lock:
        _deep_calls -= 1
        if _deep_calls == 0:
            sys.setrecursionlimit(_default_limit)
