"""Who asked for a step: a person's name, recorded on the history rows it writes.

Steps are mostly taken by the engine itself (a due job, a thrown message); when a person takes
one (an operator retries, cancels or completes a task in the cockpit), the code that serves
them wraps the engine call in ``acting_as(name)`` and every history row the call commits
carries ``actor=name``. A context variable, not a parameter of every engine method: each
thread (and each asyncio task) has its own, so concurrent requests never mix their names.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_actor: ContextVar[str | None] = ContextVar("retailflow_actor", default=None)


@contextmanager
def acting_as(name: str) -> Iterator[None]:
    """Record ``name`` as the actor of every step committed inside the block."""
    token = _actor.set(name)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> str | None:
    """The actor of the steps committed now, or ``None`` when the engine acts on its own."""
    return _actor.get()
