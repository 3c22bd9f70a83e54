"""Group commit: the steps one ``run()`` takes of many instances, committed together.

On a database each commit costs a transaction (and, with ``durability="full"``, a sync of the
disk). Inside ``run()`` the steps of different instances do not depend on each other, so their
checkpoints wait here and are written in one transaction, each in a savepoint of its own
(``Store.commit_many``): one instance that another writer moved on meanwhile is refused alone,
undone, and its step taken again on a fresh read, while the others commit.

A step waits here only until the group is flushed: before a job of an instance with a waiting
step runs (so every step starts from a committed one), before the next claim, when the group is
full, and when ``run()`` ends. What a step threw (signals, messages) is delivered once the step
is committed, never before. A crash before the flush loses the group's steps, not their jobs:
those stay claimed until their leases expire and then run again, as after any crash. A commit
that fails (the database out of reach) undoes its steps and gives their jobs back, so they run
again as soon as it answers, not when their leases expire (which liveness keeps from expiring
while the worker lives).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from retailflow.model import ConcurrentUpdateError, Job, NotFoundError, RetailflowError
from retailflow.stores import Checkpoint, Store


@dataclass(slots=True)
class _Waiting:
    checkpoint: Checkpoint
    committed: Callable[[], None]
    refused: Callable[[RetailflowError], None]
    undo: Callable[[], None]
    job: Job | None
    retry: Callable[[], None] | None = None


class GroupCommit:
    """Checkpoints waiting for one transaction, at most ``limit`` of them."""

    def __init__(self, store: Store, limit: int) -> None:
        self._store = store
        self._limit = limit
        self._waiting: dict[str, _Waiting] = {}

    def holds(self, instance_id: str) -> bool:
        """Whether a step of the instance waits to be committed."""
        return instance_id in self._waiting

    def add(
        self,
        checkpoint: Checkpoint,
        *,
        committed: Callable[[], None],
        refused: Callable[[RetailflowError], None],
        undo: Callable[[], None],
        job: Job | None,
    ) -> None:
        """Keep a step's checkpoint for the next flush: ``committed`` runs once it is;
        ``refused`` (a conflict) or ``undo`` (the whole commit failed) takes back what was
        assumed of it (a live run, claimed jobs in hand) if it is not. ``job`` is the claimed
        job the step completes, given back if the commit fails."""
        instance_id = checkpoint.instance.id
        if instance_id in self._waiting:
            raise RuntimeError(f"instance {instance_id} already has a step waiting to commit")
        self._waiting[instance_id] = _Waiting(checkpoint, committed, refused, undo, job)

    def retry_with(self, instance_id: str, retry: Callable[[], None]) -> None:
        """How to take the instance's waiting step again if the group's commit refuses it."""
        self._waiting[instance_id].retry = retry

    @property
    def full(self) -> bool:
        return len(self._waiting) >= self._limit

    def flush(self) -> None:
        """Commit the waiting steps in one transaction; take the refused ones again, one by
        one. If the commit fails (the database out of reach), the steps it did not commit are
        undone and the error raised."""
        # In instance order: every worker's group locks its rows in the same order, so two
        # groups sharing instances wait for each other instead of deadlocking.
        waiting = sorted(self._waiting.values(), key=lambda step: step.checkpoint.instance.id)
        self._waiting.clear()
        if not waiting:
            return
        outcomes: list[RetailflowError | None] = []
        try:
            self._commit([step.checkpoint for step in waiting], outcomes)
        except BaseException:
            undone = waiting[len(outcomes) :]
            for step in undone:
                step.undo()
            self._settle(waiting, outcomes)
            self._give_back([step.job for step in undone if step.job is not None])
            raise
        for step in self._settle(waiting, outcomes):
            if step.retry is not None:
                step.retry()

    def _give_back(self, jobs: list[Job]) -> None:
        """Give back the claimed jobs of steps a failed commit undid, which would otherwise
        stay claimed for their whole lease; with the database out of reach, their leases it is
        (one failed attempt says so: no waiting on the others)."""
        with suppress(RetailflowError):
            for job in jobs:
                if job.lock_owner is not None:
                    self._store.release_job(job.id, owner=job.lock_owner)

    @staticmethod
    def _settle(waiting: list[_Waiting], outcomes: list[RetailflowError | None]) -> list[_Waiting]:
        """Take back the refused steps, then follow up the committed ones; returns the refused.

        Every refused step is taken back before any committed step's thrown events are
        delivered: a delivery reaches instances through the live-run cache, where a refused
        step's run (and the version it assumed, which another writer's change may share) would
        otherwise still stand, and be written over the other writer's change."""
        refused: list[_Waiting] = []
        for step, outcome in zip(waiting, outcomes, strict=False):
            if outcome is not None:
                step.refused(outcome)
                refused.append(step)
        for step, outcome in zip(waiting, outcomes, strict=False):
            if outcome is None:
                step.committed()
        return refused

    def _commit(
        self, checkpoints: list[Checkpoint], outcomes: list[RetailflowError | None]
    ) -> None:
        """Commit, adding each checkpoint's outcome to ``outcomes`` (``None``: committed; an
        error: refused) as it is known. One transaction; a group of one is an ordinary commit
        (no savepoint to pay for), as when ``run()`` drives one instance from wait state to
        wait state. A group the database aborts as a whole (a deadlock, a serialization
        failure: no step's fault) is committed a step at a time instead."""
        if len(checkpoints) > 1:
            with suppress(ConcurrentUpdateError):
                outcomes.extend(self._store.commit_many(checkpoints))
                return
        for checkpoint in checkpoints:
            try:
                self._store.commit(checkpoint)
            except (ConcurrentUpdateError, NotFoundError) as refused:
                outcomes.append(refused)
            else:
                outcomes.append(None)
