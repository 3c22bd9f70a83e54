"""How long a failed job waits before its next attempt."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from retailflow.handlers import RetryPolicy
from retailflow.model import RetailflowError

EXACT = RetryPolicy(jitter=0)


def test_the_default_wait_doubles_from_one_second() -> None:
    assert [EXACT.backoff(attempt) for attempt in (1, 2, 3, 4)] == [
        timedelta(seconds=1),
        timedelta(seconds=2),
        timedelta(seconds=4),
        timedelta(seconds=8),
    ]


def test_the_wait_stops_growing_at_max_backoff() -> None:
    policy = RetryPolicy(
        initial_backoff=timedelta(seconds=10),
        multiplier=3,
        max_backoff=timedelta(minutes=1),
        jitter=0,
    )
    assert [policy.backoff(attempt).total_seconds() for attempt in (1, 2, 3, 4)] == [10, 30, 60, 60]


def test_a_very_late_attempt_waits_max_backoff_instead_of_overflowing() -> None:
    assert EXACT.backoff(100_000) == timedelta(minutes=5)


def test_jitter_only_shortens_the_wait_and_never_passes_the_ceiling() -> None:
    policy = RetryPolicy(jitter=0.5)
    rng = random.Random(7)
    for attempt in range(1, 30):
        exact = EXACT.backoff(attempt)
        jittered = policy.backoff(attempt, rng)
        assert exact / 2 <= jittered <= exact <= policy.max_backoff


def test_jitter_spreads_workers_that_failed_together() -> None:
    rng = random.Random(1)
    waits = {RetryPolicy().backoff(9, rng) for _ in range(20)}
    assert len(waits) > 1


def test_the_same_seed_gives_the_same_waits() -> None:
    policy = RetryPolicy()
    first = [policy.backoff(n, random.Random(42)) for n in range(1, 6)]
    again = [policy.backoff(n, random.Random(42)) for n in range(1, 6)]
    assert first == again


def test_attempts_are_counted_from_one() -> None:
    with pytest.raises(RetailflowError, match="start at 1"):
        EXACT.backoff(0)


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"retries": 0}, "retries"),
        ({"initial_backoff": timedelta(seconds=-1)}, "initial_backoff"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"max_backoff": timedelta(milliseconds=1)}, "max_backoff"),
        ({"jitter": 1.5}, "jitter"),
    ],
)
def test_a_policy_that_makes_no_sense_is_refused(
    settings: dict[str, object], complaint: str
) -> None:
    with pytest.raises(RetailflowError, match=complaint):
        RetryPolicy(**settings)  # type: ignore[arg-type]
