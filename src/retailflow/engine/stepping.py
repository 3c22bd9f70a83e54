"""Stepping one instance: from its wait states to the next ones, in one store commit.

A step loads the instance's live run (cached from its last commit, or restored from the store),
applies an action to it (complete a task, deliver a message, fire a timer ...), and commits the
state, jobs, subscriptions, user tasks, incidents and history together (``Checkpoint``),
guarded by the instance's version: a step another writer beat is taken again on a fresh read,
never merged. What the committed step threw (signals, messages) is then delivered elsewhere.
Inside ``run()`` on a store that keeps nothing durable, an instance's steps are chained into
one checkpoint per group commit instead, their state dumped once (``GroupCommit``).
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

from retailflow.engine.actors import current_actor
from retailflow.engine.callouts import CalloutHandlers
from retailflow.engine.claim_budget import ClaimBudget
from retailflow.engine.clock import Clock
from retailflow.engine.definitions import DefinitionCache
from retailflow.engine.group_commit import GroupCommit
from retailflow.engine.spiff import (
    PendingCatch,
    ProcessRun,
    StateCodec,
    Thrown,
    WaitStates,
    with_room_for,
)
from retailflow.engine.wait_rows import (
    WaitStateRows,
    correlation_key,
    step_history,
    subscriptions,
)
from retailflow.model import (
    BufferedMessage,
    ConcurrentUpdateError,
    ExecutionError,
    HistoryEvent,
    HistoryKind,
    Incident,
    Instance,
    InstanceEndedError,
    InstanceStatus,
    Job,
    NotFoundError,
    ProcessDefinition,
    RetailflowError,
    VariableTypeError,
)
from retailflow.model.variables import check_variables
from retailflow.stores import Checkpoint, Store, WaitStateIds

logger = logging.getLogger(__name__)

CONFLICT_ATTEMPTS = 5
"""How often a step (or a correlation) is taken again when other writers got there first."""
# What a new instance had stored before its first commit.
_NOTHING_STORED = WaitStateIds()
ENDED_STATE = b""
"""The engine state stored for a completed or cancelled instance: none."""


@dataclass(frozen=True, slots=True)
class Note:
    """A history event the engine adds to a step; the commit stamps instance and time."""

    kind: HistoryKind
    element_id: str | None
    variables: dict[str, Any]


ThrownReceiver = Callable[[Thrown, ClaimBudget | None], None]
"""Where the signals and messages a committed step threw go (the engine's broadcast and
correlation), with the claim budget of the ``run()`` that took the step."""


class InstanceStepper:
    """Takes steps of instances and commits them; keeps the live runs of recent steps."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        definitions: DefinitionCache,
        rows: WaitStateRows,
        callouts: CalloutHandlers,
        thrown_to: ThrownReceiver,
        *,
        live_cache_size: int,
    ) -> None:
        self._store = store
        self._clock = clock
        self._definitions = definitions
        self._rows = rows
        self._callouts = callouts
        self._thrown_to = thrown_to
        self._codec = StateCodec()
        # Live runs keyed by instance id: saves a read and a deserialization per step when
        # one engine drives an instance from wait state to wait state. A run another writer
        # made stale is caught by the version check at commit, which evicts and re-reads; so
        # does any failure while advancing.
        self._live: OrderedDict[str, _Live] = OrderedDict()
        self._live_cache_size = live_cache_size
        # Instances whose steps wait, chained, for a group's flush (``GroupCommit.chains``).
        self._chained: set[str] = set()

    # -- new instances -------------------------------------------------------------------------
    def start(
        self,
        definition: ProcessDefinition,
        business_key: str | None,
        variables: dict[str, Any],
        deliver: tuple[str, str] | None = None,
        budget: ClaimBudget | None = None,
    ) -> Instance:
        """Start an instance of ``definition`` and commit its first step; ``deliver`` is the
        ``(kind, name)`` of the message or signal its start event catches, carrying
        ``variables``."""
        loaded = self._definitions.get(definition.id)
        instance = self.new_instance(definition, business_key)
        started = Note(HistoryKind.INSTANCE_STARTED, None, dict(variables))
        start_event = (
            None
            if deliver is None
            else next(
                element
                for element, name in loaded.compiled.start_events(deliver[0])
                if name == deliver[1]
            )
        )

        def begin() -> ProcessRun:
            run = ProcessRun.start(
                loaded.compiled,
                {} if deliver else variables,
                loaded.script_engine,
                start_event=start_event,
                callouts=self._callouts.runner(instance),
            )
            if deliver is not None:
                kind, name = deliver
                catch = next(
                    c for c in run.wait_states().catches if c.kind == kind and c.name == name
                )
                if kind == "message":
                    run.deliver_message(catch.task_id, name, variables)
                else:
                    run.deliver_signal(catch.task_id, name, variables)
            return run

        return self.commit_new(instance, begin, extra=[started], budget=budget)

    def commit_new(
        self,
        instance: Instance,
        begin: Callable[[], ProcessRun],
        *,
        extra: Sequence[Note],
        schedules: dict[str, list[Job]] | None = None,
        budget: ClaimBudget | None = None,
    ) -> Instance:
        """Commit a new instance's first step, run by ``begin``. A step that met a message
        concurrently (one it delivered was consumed by another instance, or one was buffered
        for a subscription it opened) is refused by the store and taken again from the start,
        as ``advance`` re-applies a step to an instance another writer moved on."""
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                compiled = self._definitions.get(instance.definition_id).compiled
                return self._commit(
                    instance,
                    with_room_for(compiled, begin),
                    expected_version=None,
                    extra=extra,
                    schedules=schedules,
                    budget=budget,
                )
            except ConcurrentUpdateError as error:
                logger.info(
                    "first step met a concurrent message, taking it again: %s",
                    error,
                    extra={"instance_id": instance.id, "attempt": attempt + 1},
                )
        raise ConcurrentUpdateError(
            f"the first step of instance '{instance.id}' met concurrent "
            f"messages {CONFLICT_ATTEMPTS} times; try again"
        )

    def new_instance(self, definition: ProcessDefinition, business_key: str | None) -> Instance:
        """A new running instance of ``definition``, started now (not stored yet)."""
        return Instance(
            id=uuid.uuid4().hex,
            definition_id=definition.id,
            process_id=definition.process_id,
            business_key=business_key,
            status=InstanceStatus.RUNNING,
            started_at=self._clock.now(),
        )

    # -- running instances ---------------------------------------------------------------------
    def advance(
        self,
        instance_id: str,
        action: Callable[[ProcessRun], None],
        *,
        extra: Sequence[Note] = (),
        cancel: bool = False,
        job: Job | None = None,
        budget: ClaimBudget | None = None,
        group: GroupCommit | None = None,
    ) -> Instance:
        """Load (or reuse) the live run, apply ``action``, commit; re-read and re-apply when
        another writer got there first. With a ``group`` (inside ``run()``) the step's
        checkpoint waits for the group's commit instead (``GroupCommit``)."""
        for attempt in range(CONFLICT_ATTEMPTS):
            cached = instance_id in self._live
            live = self._live_run(instance_id)
            instance, run = live.instance, live.run
            try:
                with_room_for(run.compiled, partial(action, run))
                return self._commit(
                    instance,
                    run,
                    expected_version=instance.version,
                    extra=extra,
                    cancelled=cancel,
                    job=job,
                    stored=live.stored,
                    budget=budget,
                    group=group,
                )
            except ConcurrentUpdateError:
                self._forget(instance_id, group)
                logger.info(
                    "instance changed meanwhile, re-applying",
                    extra={"instance_id": instance_id, "attempt": attempt + 1},
                )
            except NotFoundError:
                # A cached run another engine moved on may not know the task: re-read once.
                self._forget(instance_id, group)
                if not cached:
                    raise
            except BaseException:
                # Whatever failed, the run may be half-advanced: never reuse it.
                self._forget(instance_id, group)
                raise
        raise ConcurrentUpdateError(
            f"instance '{instance_id}' kept changing under {CONFLICT_ATTEMPTS} attempts; try again"
        )

    def _forget(self, instance_id: str, group: GroupCommit | None) -> None:
        """Drop the live run of a step that failed or was refused; with a ``group``, undo the
        instance's chained steps too, since that run is theirs."""
        self._live.pop(instance_id, None)
        if group is not None:
            group.abandon(instance_id)

    def job_task(self, job: Job) -> tuple[Instance, tuple[Any, dict[str, Any], str]]:
        """The instance and the waiting task of a job (its configuration, the variables it
        sees, its element id); a cached run that does not know the task (another writer moved
        on) is re-read once before giving up."""
        for _ in range(2):
            try:
                live = self._live_run(job.instance_id)
            except InstanceEndedError:
                break  # the job outlived its instance (cancelled meanwhile, say)
            try:
                return live.instance, live.run.job_variables(job.id)
            except NotFoundError:
                self._live.pop(job.instance_id, None)
        raise NotFoundError(f"job '{job.id}' no longer matches a waiting task")

    def wake_up_lost(self) -> None:
        """Deliver buffered messages that an older retailflow left beside the instances that
        wait for them (a lost wake-up, which commits now prevent): re-committing such an
        instance's wait states delivers the message, as any step reaching the catch does."""
        for subscription in self._store.lost_wake_ups(self._clock.now()):
            logger.warning(
                "instance %s waits at %s beside a buffered message; delivering it",
                subscription.instance_id,
                subscription.element_id,
                extra={"instance_id": subscription.instance_id},
            )
            try:
                self.advance(subscription.instance_id, lambda run: None)
            except (ConcurrentUpdateError, NotFoundError):
                pass  # another writer moved the instance on, or the message went elsewhere
            except RetailflowError as error:
                # One instance that cannot take its message must not stop every run().
                logger.error(
                    "instance %s could not take its buffered message: %s",
                    subscription.instance_id,
                    error,
                    extra={"instance_id": subscription.instance_id},
                )

    # -- the live-run cache --------------------------------------------------------------------
    def _live_run(self, instance_id: str) -> _Live:
        cached = self._live.get(instance_id)
        if cached is not None:
            self._live.move_to_end(instance_id)
            return cached
        instance, state, stored = self._store.load_state(instance_id)
        if instance.status != InstanceStatus.RUNNING:
            # Its state was dropped when it ended (``ENDED_STATE``): there is no run to restore.
            raise InstanceEndedError(instance_id, instance.status)
        loaded = self._definitions.get(instance.definition_id)
        try:
            run = with_room_for(
                loaded.compiled,
                lambda: ProcessRun.restore(
                    state,
                    loaded.compiled,
                    self._codec,
                    loaded.script_engine,
                    self._callouts.runner(instance),
                ),
            )
        except ExecutionError as error:
            raise ExecutionError(
                f"instance '{instance_id}' ({instance.definition_id}): {error}"
            ) from error
        # Kept as any committed run is: a job's step reads the task (``job_task``) and then
        # advances, and would otherwise restore the same state twice.
        live = _Live(instance, run, stored)
        self._remember(live)
        return live

    def _remember(self, live: _Live) -> None:
        self._live[live.instance.id] = live
        self._live.move_to_end(live.instance.id)
        if len(self._live) <= self._live_cache_size:
            return
        for _ in range(len(self._live)):
            if len(self._live) <= self._live_cache_size:
                break
            instance_id, oldest = self._live.popitem(last=False)
            if instance_id in self._chained:
                # Its chained steps wait for a flush that dumps this run: the store knows
                # nothing of them yet, so a re-read would start from a stale state.
                self._live[instance_id] = oldest

    # -- the commit ----------------------------------------------------------------------------
    def _commit(
        self,
        instance: Instance,
        run: ProcessRun,
        *,
        expected_version: int | None,
        extra: Sequence[Note] = (),
        cancelled: bool = False,
        job: Job | None = None,
        stored: WaitStateIds = _NOTHING_STORED,
        schedules: dict[str, list[Job]] | None = None,
        budget: ClaimBudget | None = None,
        group: GroupCommit | None = None,
    ) -> Instance:
        """Write the step (or, with a ``group``, hand it to the group's commit). ``stored`` are
        the wait-state ids stored before it (from the last commit, or read with the state): the
        store need not read them, and with a ``budget`` (inside ``run()``) the jobs the step
        creates are claimed in the same commit, so the engine that advanced the instance takes
        its next job too, whether its run was cached or restored (affinity: no other worker
        restores the state again for it)."""
        now = self._clock.now()
        waits, consumed = (WaitStates(), []) if cancelled else self._wait_states(run, instance, now)
        history = [
            HistoryEvent(
                instance.id,
                instance.definition_id,
                note.kind,
                now,
                element_id=note.element_id,
                job_id=job.id if job else None,
                variables=note.variables,
            )
            for note in extra
        ]
        history.extend(step_history(instance, run.drain_steps(), run.drain_entered(), now, job))
        incidents, opened = self._rows.incidents(instance, run.drain_failures(), now)
        history.extend(opened)
        variables = run.variables
        ended = cancelled or run.completed
        try:
            # Whatever reached the data past the checks at the API (a mapping's result, a
            # branch's variables) is refused here, where it becomes an incident, never in the
            # store's driver.
            check_variables(variables, f"instance '{instance.id}'")
        except VariableTypeError as error:
            raise ExecutionError(str(error)) from error
        # An ended instance never moves again, so its engine state is dropped: the instance
        # row (status, variables, times) and its history are all that is read of it. A
        # chained step's state is dumped by the group's flush, as of the chain's last step.
        chained = group is not None and group.chains(instance.id)
        state = ENDED_STATE if ended or chained else self._dump(run)
        updated = Instance(
            id=instance.id,
            definition_id=instance.definition_id,
            process_id=instance.process_id,
            business_key=instance.business_key,
            status=instance.status,
            started_at=instance.started_at,
            version=instance.version + 1,
            parent_id=instance.parent_id,
            variables=variables,
        )
        if cancelled:
            updated.status, updated.ended_at = InstanceStatus.CANCELLED, now
            history.append(
                HistoryEvent(
                    instance.id, instance.definition_id, HistoryKind.INSTANCE_CANCELLED, now
                )
            )
        elif ended:
            updated.status, updated.ended_at = InstanceStatus.COMPLETED, now
            history.append(
                HistoryEvent(
                    instance.id,
                    instance.definition_id,
                    HistoryKind.INSTANCE_COMPLETED,
                    now,
                    variables=updated.variables,
                )
            )
        actor = current_actor()
        if actor is not None:
            history = [replace(event, actor=actor) for event in history]
        jobs = self._rows.jobs(updated, waits, now)
        claimed = [] if budget is None else budget.claim_new(jobs, stored.jobs, now)
        checkpoint = Checkpoint(
            instance=updated,
            state=state,
            expected_version=expected_version,
            jobs=jobs,
            subscriptions=subscriptions(updated, waits),
            user_tasks=self._rows.user_tasks(updated, waits, now),
            incidents=incidents,
            history=history,
            consumed_message_ids=consumed,
            schedules=schedules or {},
            now=now,
            stored=None if expected_version is None else stored,
        )
        thrown = run.drain_thrown()
        if group is None:
            self._store.commit(checkpoint)
        else:
            group.add(
                checkpoint,
                committed=partial(self._committed, updated.id, incidents, thrown, budget),
                refused=partial(self._refused, updated.id, claimed, budget),
                undo=partial(self._undo, updated.id, claimed, budget),
                job=job,
                state=partial(self._dump, run) if chained and not ended else None,
            )
            if chained:
                self._chained.add(updated.id)
        # Assumed committed from here on: the group's commit comes before any later step of
        # this instance, and undoes this if it refuses the step.
        if budget is not None:
            budget.hold(claimed)
        if updated.status == InstanceStatus.RUNNING:
            self._remember(
                _Live(
                    updated,
                    run,
                    WaitStateIds(
                        frozenset(j.id for j in jobs),
                        frozenset(s.id for s in checkpoint.subscriptions),
                        frozenset(task.id for task in checkpoint.user_tasks),
                    ),
                )
            )
        else:
            self._live.pop(updated.id, None)
        if group is None:
            self._committed(updated.id, incidents, thrown, budget)
        return updated

    def _dump(self, run: ProcessRun) -> bytes:
        """The run's engine state; data the state cannot hold is the step's failure."""
        try:
            return run.dump(self._codec)
        except VariableTypeError as error:
            raise ExecutionError(str(error)) from error

    def _committed(
        self,
        instance_id: str,
        incidents: Sequence[Incident],
        thrown: Sequence[Thrown],
        budget: ClaimBudget | None,
    ) -> None:
        """What follows a step once it is committed: its incidents are logged, what it threw
        is delivered."""
        self._chained.discard(instance_id)
        for incident in incidents:
            logger.error(
                "incident opened at %s of instance %s: %s",
                incident.element_id,
                incident.instance_id,
                incident.message,
                extra={
                    "instance_id": incident.instance_id,
                    "element_id": incident.element_id,
                    "job_id": incident.job_id,
                },
            )
        self._deliver_thrown(thrown, budget)

    def _refused(
        self,
        instance_id: str,
        claimed: Sequence[Job],
        budget: ClaimBudget | None,
        error: RetailflowError,
    ) -> None:
        """A group's commit refused the instance's step: another writer got there first."""
        self._undo(instance_id, claimed, budget)
        logger.info(
            "instance changed meanwhile, re-applying",
            extra={"instance_id": instance_id, "attempt": 1, "error": str(error)},
        )

    def _undo(self, instance_id: str, claimed: Sequence[Job], budget: ClaimBudget | None) -> None:
        """Take back what a step handed to a group assumed, when the group did not commit it:
        its live run, and the jobs it claimed (never stored)."""
        self._chained.discard(instance_id)
        self._live.pop(instance_id, None)
        if budget is not None:
            gone = {job.id for job in claimed}
            kept = [job for job in budget.in_hand if job.id not in gone]
            budget.in_hand.clear()
            budget.in_hand.extend(kept)

    def _wait_states(
        self, run: ProcessRun, instance: Instance, now: datetime
    ) -> tuple[WaitStates, list[str]]:
        """The run's wait states, after delivering messages that arrived before their
        subscription opened; returns the ids of the buffered messages consumed."""
        consumed: list[str] = []
        waits = run.wait_states()
        while True:
            message = self._buffered_message_for(waits, instance, now, consumed)
            if message is None:
                return waits, consumed
            catch, buffered = message
            run.deliver_message(catch.task_id, catch.name, buffered.variables)
            consumed.append(buffered.id)
            waits = run.wait_states()

    def _buffered_message_for(
        self, waits: WaitStates, instance: Instance, now: datetime, consumed: list[str]
    ) -> tuple[PendingCatch, BufferedMessage] | None:
        for catch in waits.catches:
            if catch.kind != "message":
                continue
            for message in self._store.take_buffered_messages(
                catch.name, correlation_key(catch, instance), now
            ):
                if message.id not in consumed:
                    return catch, message
        return None

    def _deliver_thrown(self, thrown_events: Sequence[Thrown], budget: ClaimBudget | None) -> None:
        """Deliver what the committed step threw. The thrower's step is already committed, so
        a receiver that cannot take the event (or a conflict while delivering it) is logged
        here, never raised into the thrower's call, which would fail a call whose work is done
        (or, on a conflict, take the committed step again). The database out of reach is no
        exception: a retried call would not deliver the event either, since it is kept nowhere
        but here; it is lost (and logged), until thrown events are stored with the step."""
        for thrown in thrown_events:
            try:
                self._thrown_to(thrown, budget)
            except NotFoundError:
                logger.warning("thrown %s '%s' reached no instance", thrown.kind, thrown.name)
            except RetailflowError as error:
                logger.error(
                    "thrown %s '%s' could not be delivered: %s", thrown.kind, thrown.name, error
                )


@dataclass(frozen=True, slots=True)
class _Live:
    """A live run as of its last commit, with the wait-state ids that commit stored (read
    with the state for a run restored from the store)."""

    instance: Instance
    run: ProcessRun
    stored: WaitStateIds
