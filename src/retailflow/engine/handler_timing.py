"""How long handlers take, told to whoever listens (the Prometheus metrics of a worker or the
cockpit): the engine measures, and knows nothing of where the numbers go."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import ParamSpec, TypeVar

from retailflow.model import BpmnError

HandlerTimingListener = Callable[[str, float, str], None]
"""Called with the job type, the seconds its handler ran, and the outcome: ``completed``,
``bpmn_error`` or ``failed``."""

_listeners: list[HandlerTimingListener] = []

_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")


def listen(listener: HandlerTimingListener) -> None:
    """Have ``listener`` told of every handler call of this process from now on."""
    if listener not in _listeners:
        _listeners.append(listener)


def timed_call(
    topic: str,
    call: Callable[_Params, _Result],
    *args: _Params.args,
    **kwargs: _Params.kwargs,
) -> _Result:
    """Call the handler ``call`` and tell every listener how long it took and how it ended;
    a plain call when no one listens (every job's handler runs through here)."""
    if not _listeners:
        return call(*args, **kwargs)
    started, outcome = perf_counter(), "failed"
    try:
        result = call(*args, **kwargs)
        outcome = "completed"
        return result
    except BpmnError:
        outcome = "bpmn_error"
        raise
    finally:
        seconds = perf_counter() - started
        for listener in _listeners:
            listener(topic, seconds, outcome)
