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
those stay claimed until their leases expire and then run again, as after any crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from retailflow.model import ConcurrentUpdateError, NotFoundError, RetailflowError
from retailflow.stores import Checkpoint, Store


@dataclass(slots=True)
class _Waiting:
    checkpoint: Checkpoint
    committed: Callable[[], None]
    refused: Callable[[RetailflowError], None]
    undo: Callable[[], None]
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
    ) -> None:
        """Keep a step's checkpoint for the next flush: ``committed`` runs once it is;
        ``refused`` (a conflict) or ``undo`` (the whole commit failed) takes back what was
        assumed of it (a live run, claimed jobs in hand) if it is not."""
        instance_id = checkpoint.instance.id
        if instance_id in self._waiting:
            raise RuntimeError(f"instance {instance_id} already has a step waiting to commit")
        self._waiting[instance_id] = _Waiting(checkpoint, committed, refused, undo)

    def retry_with(self, instance_id: str, retry: Callable[[], None]) -> None:
        """How to take the instance's waiting step again if the group's commit refuses it."""
        self._waiting[instance_id].retry = retry

    @property
    def full(self) -> bool:
        return len(self._waiting) >= self._limit

    def flush(self) -> None:
        """Commit the waiting steps in one transaction; take the refused ones again, one by
        one. If the transaction fails as a whole, every step is undone and the error raised."""
        waiting = list(self._waiting.values())
        self._waiting.clear()
        if not waiting:
            return
        try:
            outcomes = self._commit([step.checkpoint for step in waiting])
        except BaseException:
            for step in waiting:
                step.undo()
            raise
        # Every refused step is taken back before any committed step's thrown events are
        # delivered: a delivery reaches instances through the live-run cache, where a refused
        # step's run (and the version it assumed, which another writer's change may share)
        # would otherwise still stand, and be written over the other writer's change.
        refused = [
            (step, outcome)
            for step, outcome in zip(waiting, outcomes, strict=True)
            if outcome is not None
        ]
        for step, error in refused:
            step.refused(error)
        for step, outcome in zip(waiting, outcomes, strict=True):
            if outcome is None:
                step.committed()
        for step, _ in refused:
            if step.retry is not None:
                step.retry()

    def _commit(self, checkpoints: list[Checkpoint]) -> list[RetailflowError | None]:
        """One transaction; a group of one is an ordinary commit (no savepoint to pay for),
        as when ``run()`` drives one instance from wait state to wait state."""
        if len(checkpoints) > 1:
            return self._store.commit_many(checkpoints)
        try:
            self._store.commit(checkpoints[0])
        except (ConcurrentUpdateError, NotFoundError) as refused:
            return [refused]
        return [None]
