"""How long handlers take, told to whoever listens (the Prometheus metrics of a worker or the
cockpit): the engine measures, and knows nothing of where the numbers go."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import perf_counter

from retailflow.model import BpmnError

HandlerTimingListener = Callable[[str, float, str], None]
"""Called with the job type, the seconds its handler ran, and the outcome: ``completed``,
``bpmn_error`` or ``failed``."""

_listeners: list[HandlerTimingListener] = []


def listen(listener: HandlerTimingListener) -> None:
    """Have ``listener`` told of every handler call of this process from now on."""
    if listener not in _listeners:
        _listeners.append(listener)


@contextmanager
def timed(topic: str) -> Iterator[None]:
    """Time the handler call inside the block and tell every listener how it ended."""
    started, outcome = perf_counter(), "failed"
    try:
        yield
        outcome = "completed"
    except BpmnError:
        outcome = "bpmn_error"
        raise
    finally:
        seconds = perf_counter() - started
        for listener in _listeners:
            listener(topic, seconds, outcome)
