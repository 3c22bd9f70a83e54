"""Time travel: ``advance(minutes=30)`` fires what falls due on the way, in order.

The testing kit's ``rf_clock`` fixture and the demo's simulated fortnight both run on it.

The clock does not jump straight to the end: it stops at each due time on the way (a timer, a
retry after backoff) and runs the engine there, so a timer fires at its own time, what it starts
is scheduled from that time, and history shows the times a real run would have. Temporal's
time-skipping test server works the same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from retailflow.engine.clock import VirtualClock
from retailflow.engine.engine import Engine


class TimeTravel:
    """A ``VirtualClock`` plus the engines that run on it (the ``rf_clock`` fixture is one)."""

    def __init__(self, clock: VirtualClock | None = None) -> None:
        self.clock = clock or VirtualClock()
        self._engines: list[Engine] = []

    def attach(self, engine: Engine) -> None:
        """Run ``engine`` whenever the clock moves (the ``rf_engine`` fixture does this)."""
        self._engines.append(engine)

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, delta: timedelta | None = None, **units: float) -> int:
        """Move forward by ``delta`` or ``timedelta(**units)``, running every engine at each due
        time on the way; returns how many jobs ran."""
        step = delta if delta is not None else timedelta(**units)
        if step < timedelta(0):
            raise ValueError("a clock does not run backwards")
        target = self.clock.now() + step
        ran = self._run()
        while (due := self._next_due()) is not None and due <= target:
            if due > self.clock.now():
                self.clock.set(due)
            done = self._run()
            ran += done
            if not done and due <= self.clock.now():
                break  # due but not runnable (claimed elsewhere): nothing more to do here
        self.clock.set(target)
        return ran + self._run()

    def _run(self) -> int:
        return sum(engine.run() for engine in self._engines)

    def _next_due(self) -> datetime | None:
        dues = [due for engine in self._engines if (due := engine.store.next_due_at()) is not None]
        return min(dues, default=None)
