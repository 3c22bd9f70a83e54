"""The engine: deploy, start, run, correlate, and look back at what happened."""

from __future__ import annotations

from retailflow.engine.actors import acting_as, current_actor
from retailflow.engine.async_engine import AsyncEngine
from retailflow.engine.clock import Clock, SystemClock, VirtualClock
from retailflow.engine.engine import Engine
from retailflow.engine.time_travel import TimeTravel
from retailflow.engine.worker import Worker, WorkerSettings

__all__ = [
    "AsyncEngine",
    "Clock",
    "Engine",
    "SystemClock",
    "TimeTravel",
    "VirtualClock",
    "Worker",
    "WorkerSettings",
    "acting_as",
    "current_actor",
]
