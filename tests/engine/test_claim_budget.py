"""ClaimBudget alone: which jobs a step inside run() may store already claimed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from retailflow.engine.claim_budget import ClaimBudget
from retailflow.model import Job, JobKind, JobState

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


def service(job_id: str, due_at: datetime = NOW) -> Job:
    return Job(job_id, "instance-1", JobKind.SERVICE, job_id, due_at, topic="test.work")


def test_only_new_service_jobs_due_now_are_claimed_and_stored_claimed_by_the_owner() -> None:
    budget = ClaimBudget("w1", timedelta(minutes=5), limit=10)
    timer = Job("timer", "instance-1", JobKind.TIMER, "timer", NOW)
    jobs = [service("old"), service("later", NOW + timedelta(hours=1)), timer, service("new")]

    claimed = budget.claim_new(jobs, known=frozenset({"old"}), now=NOW)

    assert [job.id for job in claimed] == ["new"]
    assert jobs[3].state_at(NOW) == JobState.CLAIMED
    assert (jobs[3].lock_owner, jobs[3].attempt) == ("w1", 1)
    assert jobs[3].lock_expires_at == NOW + timedelta(minutes=5)
    assert [job.state_at(NOW) for job in jobs[:3]] == [
        JobState.DUE,
        JobState.SCHEDULED,
        JobState.DUE,
    ]
    assert list(budget.in_hand) == []  # held only once the step is committed
    budget.hold(claimed)
    assert list(budget.in_hand) == claimed


def test_jobs_in_hand_and_new_claims_together_stay_within_the_limit() -> None:
    budget = ClaimBudget("w1", timedelta(minutes=5), limit=3)
    budget.hold([service("held")])
    jobs = [service("a"), service("b"), service("c")]

    claimed = budget.claim_new(jobs, known=frozenset(), now=NOW)

    assert [job.id for job in claimed] == ["a", "b"]
    assert jobs[2].lock_owner is None
