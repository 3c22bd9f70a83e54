"""The engine: deploy, start, run, correlate, and look back at what happened."""

from __future__ import annotations

from retailflow.engine.clock import Clock, SystemClock, VirtualClock
from retailflow.engine.engine import Engine, SignalDeliveryError
from retailflow.engine.spiff import CalloutError
from retailflow.engine.time_travel import TimeTravel
from retailflow.engine.worker import Worker, WorkerSettings

__all__ = [
    "CalloutError",
    "Clock",
    "Engine",
    "SignalDeliveryError",
    "SystemClock",
    "TimeTravel",
    "VirtualClock",
    "Worker",
    "WorkerSettings",
]
