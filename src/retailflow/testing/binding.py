"""The engine a test's shortcuts and assertions talk to.

``assert_that(order)`` and ``complete(task)`` read as the business speaks because they do not
name the engine; the ``rf_engine`` fixture binds its engine for the length of the test, as
camunda-bpm-assert binds its process engine. Code outside the fixture binds one with
``bind_engine`` or passes ``engine=`` explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from retailflow.engine import Engine

_bound: list[Engine] = []


@contextmanager
def bind_engine(engine: Engine) -> Iterator[Engine]:
    """Make ``engine`` the one shortcuts and assertions use until the block ends."""
    _bound.append(engine)
    try:
        yield engine
    finally:
        _bound.remove(engine)


def bound_engine(engine: Engine | None = None) -> Engine:
    """``engine`` when given, else the innermost bound one."""
    if engine is not None:
        return engine
    if not _bound:
        raise RuntimeError(
            "no retailflow engine is bound: use the rf_engine fixture, wrap the "
            "code in bind_engine(engine), or pass engine=..."
        )
    return _bound[-1]
