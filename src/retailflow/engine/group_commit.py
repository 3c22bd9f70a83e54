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

On a store that keeps nothing durable (``Store.pending_jobs``: the ``MemoryStore``) an
instance's next step does not wait for the flush: it is chained onto the waiting one, and the
group commits one checkpoint per instance (the history of every step, the last step's wait
states, the first step's expected version). Its engine state is taken once, at the flush, from
the live run as of its last step (none for an instance that ended), so the store holds the
instance as of its last flush: other engines sharing the store see the chain's steps only
then, and its new jobs do not exist there before (a write that names one of its jobs, such as
a failed attempt, commits the instance's chain first: ``PendingJobs``). A step that fails
mid-way leaves the live run half-advanced, so the instance's chain is undone, never dumped:
the store keeps the state of its last flush, the jobs the chain's steps completed are given
back and run again (their handlers too: at least once, as after a crash before a flush), and
the instance's steps are committed one by one for the rest of the ``run()``, so the failing
step is recorded where it fails. A refused chain (another engine moved the instance on) is
undone and its first step taken again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial

from retailflow.model import (
    ConcurrentUpdateError,
    ExecutionError,
    Job,
    NotFoundError,
    RetailflowError,
)
from retailflow.stores import Checkpoint, Store

CHAINED_STEPS_PER_INSTANCE = 16
"""How many steps per instance of its limit a chaining group holds before it is full: it
bounds nothing durable, only how long other engines sharing the store wait to see the steps
(and how much a failure mid-chain takes again), so instances taking turns still chain."""


@dataclass(slots=True)
class _Step:
    """What one step handed to the group expects of its commit (see ``GroupCommit.add``)."""

    committed: Callable[[], None]
    refused: Callable[[RetailflowError], None]
    undo: Callable[[], None]
    job: Job | None


@dataclass(slots=True)
class _Waiting:
    """The checkpoint of an instance's waiting steps (one, or a chain of them)."""

    checkpoint: Checkpoint
    steps: list[_Step]
    state: Callable[[], bytes] | None
    held: list[str]  # the ids of its jobs a write commits it before (``PendingJobs``)
    retry: Callable[[], None] | None = None


class GroupCommit:
    """Checkpoints waiting for one transaction, at most ``limit`` instances' of them."""

    def __init__(self, store: Store, limit: int) -> None:
        self._store = store
        self._limit = limit
        self._waiting: dict[str, _Waiting] = {}
        self._steps = 0  # waiting, chained ones included
        self._pending = store.pending_jobs
        # Instances whose chain failed: their steps are committed one by one from then on.
        self._unchained: set[str] = set()

    def holds(self, job: Job) -> bool:
        """Whether the step that runs ``job`` must wait for the commit of a step of its
        instance waiting here. On a store that keeps nothing durable it is chained onto it
        instead, unless the chain's last step no longer has the job (an interrupting boundary
        event took its task away, or the instance ended): such a stale job must meet the
        state the chain leads to, as it does on a database, not the one stored before it."""
        waiting = self._waiting.get(job.instance_id)
        if waiting is None:
            return False
        if not self.chains(job.instance_id):
            return True
        return all(pending.id != job.id for pending in waiting.checkpoint.jobs)

    def chains(self, instance_id: str) -> bool:
        """Whether the instance's steps are chained into one checkpoint per flush, their
        state dumped at the flush (``add``'s ``state``)."""
        return self._pending is not None and instance_id not in self._unchained

    def add(
        self,
        checkpoint: Checkpoint,
        *,
        committed: Callable[[], None],
        refused: Callable[[RetailflowError], None],
        undo: Callable[[], None],
        job: Job | None,
        state: Callable[[], bytes] | None = None,
    ) -> None:
        """Keep a step's checkpoint for the next flush: ``committed`` runs once it is;
        ``refused`` (a conflict) or ``undo`` (the whole commit failed) takes back what was
        assumed of it (a live run, claimed jobs in hand) if it is not. ``job`` is the claimed
        job the step completes, given back if the commit fails. ``state`` dumps the engine
        state at the flush (a chained step, whose ``checkpoint.state`` is left to it). A
        later step of an instance that ``chains`` is merged into the waiting one, and a write
        naming one of the instance's jobs commits the chain first."""
        instance_id = checkpoint.instance.id
        step = _Step(committed, refused, undo, job)
        job_ids = [job.id for job in checkpoint.jobs] if self._pending is not None else []
        waiting = self._waiting.get(instance_id)
        if waiting is None:
            self._waiting[instance_id] = _Waiting(checkpoint, [step], state, job_ids)
        elif self.chains(instance_id):
            _chain(waiting.checkpoint, checkpoint)
            waiting.steps.append(step)
            waiting.state = state
            waiting.held.extend(job_ids)
        else:
            raise RuntimeError(f"instance {instance_id} already has a step waiting to commit")
        self._steps += 1
        if self._pending is not None:
            # Its new jobs are not stored yet, and a write naming a stored one (a failed
            # attempt of a job claimed with it) must come after the chain's history.
            self._pending.hold(job_ids, partial(self._flush_instance, instance_id))

    def retry_with(self, instance_id: str, retry: Callable[[], None]) -> None:
        """How to take the instance's waiting step again if the group's commit refuses it; a
        chain is taken again from its first step (the jobs of the later ones were never
        stored)."""
        waiting = self._waiting[instance_id]
        if waiting.retry is None:
            waiting.retry = retry

    def abandon(self, instance_id: str) -> None:
        """A step of the instance failed mid-way: undo its waiting steps, whose live run is no
        longer theirs to dump, give back the jobs they completed (they run again) and commit
        the instance's later steps one by one."""
        if self._pending is None:
            return  # its waiting step, if any, was committed before this one began
        self._unchained.add(instance_id)
        waiting = self._waiting.pop(instance_id, None)
        if waiting is not None:
            self._steps -= len(waiting.steps)
            self._drop(waiting)

    @property
    def full(self) -> bool:
        """Whether the group must be flushed before it takes another step: a claim's worth of
        instances, or of chained steps per instance."""
        if self._pending is None:
            return len(self._waiting) >= self._limit
        return self._steps >= self._limit * CHAINED_STEPS_PER_INSTANCE

    def flush(self) -> None:
        """Commit the waiting steps in one transaction; take the refused ones again, one by
        one. If the commit fails (the database out of reach), the steps it did not commit are
        undone and the error raised."""
        # In instance order: every worker's group locks its rows in the same order, so two
        # groups sharing instances wait for each other instead of deadlocking.
        waiting = sorted(self._waiting.values(), key=lambda chain: chain.checkpoint.instance.id)
        self._waiting.clear()
        self._steps = 0
        self._flush(waiting)

    def _flush_instance(self, instance_id: str) -> None:
        """Commit the instance's chain alone (a write names one of its jobs)."""
        chain = self._waiting.pop(instance_id, None)
        if chain is not None:
            self._steps -= len(chain.steps)
            self._flush([chain])

    def _flush(self, waiting: list[_Waiting]) -> None:
        """Commit these chains (taken out of the group), each with its state dumped now."""
        if self._pending is not None:
            for chain in waiting:
                self._pending.forget(chain.held)
        waiting = [chain for chain in waiting if self._dumped(chain)]
        if not waiting:
            return
        outcomes: list[RetailflowError | None] = []
        try:
            self._commit([chain.checkpoint for chain in waiting], outcomes)
        except BaseException:
            undone = waiting[len(outcomes) :]
            for chain in undone:
                for step in chain.steps:
                    step.undo()
            self._settle(waiting, outcomes)
            self._give_back([job for chain in undone for job in _jobs(chain)])
            raise
        for chain in self._settle(waiting, outcomes):
            if chain.retry is not None:
                chain.retry()

    def _dumped(self, chain: _Waiting) -> bool:
        """Take a chain's engine state; False (the chain dropped, as if one of its steps
        failed) when it cannot be stored, so that the step that made it so fails alone."""
        if chain.state is None:
            return True
        try:
            chain.checkpoint.state = chain.state()
        except ExecutionError:
            instance_id = chain.checkpoint.instance.id
            self._unchained.add(instance_id)
            self._drop(chain)
            return False
        return True

    def _drop(self, chain: _Waiting) -> None:
        """Undo a chain that will never be committed and give back the stored jobs its steps
        completed; the jobs it created were never stored."""
        if self._pending is not None:
            self._pending.forget(chain.held)
        for step in reversed(chain.steps):
            step.undo()
        self._give_back(_jobs(chain))

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
        for chain, outcome in zip(waiting, outcomes, strict=False):
            if outcome is not None:
                for step in reversed(chain.steps):
                    step.refused(outcome)
                refused.append(chain)
        for chain, outcome in zip(waiting, outcomes, strict=False):
            if outcome is None:
                for step in chain.steps:
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


def _jobs(chain: _Waiting) -> list[Job]:
    """The claimed jobs a chain's steps completed."""
    return [step.job for step in chain.steps if step.job is not None]


def _chain(first: Checkpoint, later: Checkpoint) -> None:
    """Merge ``later``, the next step of the same instance, into ``first``: what committing
    both in turn would store. The wait states are the later step's (complete sets), the
    version checked and the wait-state ids known are the first's; history and consumed
    messages add up; an incident of the first whose job the later step removed goes with it,
    as the store would take it away; a later schedule of an owner replaces the first's."""
    if first.incidents:
        job_ids = {job.id for job in later.jobs}
        first.incidents = [i for i in first.incidents if i.job_id in job_ids]
    first.incidents.extend(later.incidents)
    first.instance = later.instance
    first.jobs = later.jobs
    first.subscriptions = later.subscriptions
    first.user_tasks = later.user_tasks
    first.history.extend(later.history)
    first.consumed_message_ids.extend(later.consumed_message_ids)
    first.schedules.update(later.schedules)
    first.now = later.now
