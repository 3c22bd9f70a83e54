"""Time as the engine sees it: the wall clock in production, a virtual one in tests.

Timers are jobs with a due time compared against ``Clock.now()``, so a test that advances a
``VirtualClock`` by thirty minutes fires exactly the timers due in those thirty minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time as a timezone-aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """A clock that moves only when told to: ``clock.advance(minutes=30)``."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2030, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **units: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**units)``; returns the new time."""
        step = delta if delta is not None else timedelta(**units)
        if step < timedelta(0):
            raise ValueError("a clock does not run backwards")
        self._now += step
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to a moment (not earlier than now)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if moment < self._now:
            raise ValueError("a clock does not run backwards")
        self._now = moment
