"""RetryPolicy: how long a failed job waits before its next attempt, and how many it gets."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from retailflow.model import RetailflowError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with a ceiling and jitter, for jobs whose handler raised.

    ``retries`` counts runs the way Camunda does: a job starts with ``retries`` left, each failure
    uses one, and at zero the job becomes an incident; the default 3 is the first run and two
    retries. A ``retries`` on the task in the diagram, or on ``@handler``, replaces this default.

    The delay after the n-th failure is ``initial_backoff * multiplier ** (n - 1)``, capped at
    ``max_backoff``. Jitter then shortens it by up to ``jitter`` (0.1: up to 10 %), so workers that
    failed together do not retry together, and ``max_backoff`` stays a true ceiling. With
    ``jitter=0`` the delays are exact, which tests can rely on.
    """

    retries: int = 3
    initial_backoff: timedelta = timedelta(seconds=1)
    multiplier: float = 2.0
    max_backoff: timedelta = timedelta(minutes=5)
    jitter: float = 0.1

    def __post_init__(self) -> None:
        problems = []
        if self.retries < 1:
            problems.append(
                f"retries counts runs, the first included, so it must be at least "
                f"1, got {self.retries}"
            )
        if self.initial_backoff < timedelta(0):
            problems.append(f"initial_backoff must not be negative, got {self.initial_backoff}")
        if self.multiplier < 1:
            problems.append(f"multiplier must be at least 1, got {self.multiplier}")
        if self.max_backoff < self.initial_backoff:
            problems.append(
                f"max_backoff ({self.max_backoff}) must not be less than "
                f"initial_backoff ({self.initial_backoff})"
            )
        if not 0 <= self.jitter <= 1:
            problems.append(f"jitter must be between 0 and 1, got {self.jitter}")
        if problems:
            raise RetailflowError("invalid RetryPolicy: " + "; ".join(problems))

    def backoff(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1 for the first run's failure).

        ``rng`` makes the jitter reproducible; without it the ``random`` module's generator is used.
        """
        if attempt < 1:
            raise RetailflowError(f"attempt numbers start at 1, got {attempt}")
        ceiling = self.max_backoff.total_seconds()
        try:
            seconds = min(
                self.initial_backoff.total_seconds() * self.multiplier ** (attempt - 1), ceiling
            )
        except OverflowError:  # a very late attempt: the growth passed any float long ago
            seconds = ceiling
        if self.jitter:
            draw = rng.random() if rng is not None else random.random()
            seconds *= 1 - self.jitter * draw
        return timedelta(seconds=seconds)
