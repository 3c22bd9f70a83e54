"""The jobs one ``run()`` holds claimed, and how many more a step may claim for it.

Inside ``run()`` a step that creates a job due now stores it already claimed by the engine that
runs it (one claim transaction saved per job), but never more than one claim's worth is held at
once: the rest stays for other workers. The budget is handed down explicitly from ``run()`` to
the steps it takes; a step taken outside ``run()`` (``complete_task``, ``correlate`` ...) has
none and claims nothing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from retailflow.model import Job, JobKind


@dataclass(slots=True)
class ClaimBudget:
    """The claimed jobs in hand (run in order) and the most that may be in hand at once."""

    owner: str
    lease: timedelta
    limit: int
    in_hand: deque[Job] = field(default_factory=deque)

    def claim_new(self, jobs: list[Job], known: frozenset[str], now: datetime) -> list[Job]:
        """Mark the new service jobs in ``jobs`` that are due now as claimed by ``owner`` (in
        place: ``jobs`` are the step's own rows, built for it, which it then stores), as many
        as keep the jobs in hand within ``limit``; ``known`` are the ids of jobs stored before
        the step. A crash leaves them to lease expiry, like any claim. Returns them; ``hold``
        takes them once the step is committed."""
        claimed: list[Job] = []
        room = self.limit - len(self.in_hand)
        for job in jobs:
            if len(claimed) >= room:
                break  # no more than one claim's worth in hand: the rest is for other workers
            if job.id not in known and job.kind == JobKind.SERVICE and job.due_at <= now:
                job.attempt, job.lock_owner = 1, self.owner
                job.lock_expires_at = now + self.lease
                claimed.append(job)
        return claimed

    def hold(self, jobs: list[Job]) -> None:
        """Keep committed claims in hand, to run after those already there."""
        self.in_hand.extend(jobs)
