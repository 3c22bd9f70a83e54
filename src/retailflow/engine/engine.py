"""The Engine: deploy, start, run jobs, complete user tasks, correlate messages, and look back.

Every operation moves one instance from its wait states to the next ones inside one store
commit (``Checkpoint``): the instance's state, jobs, subscriptions, user tasks, incidents and
history land together or not at all. Handlers run between commits, never inside one.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from retailflow.decisions import DecisionEvaluator
from retailflow.engine.callouts import CalloutHandlers
from retailflow.engine.clock import Clock, SystemClock
from retailflow.engine.definitions import DefinitionCache
from retailflow.engine.deployer import Deployer
from retailflow.engine.kpis import compute_kpis
from retailflow.engine.spiff import (
    ASYNC_AFTER_JOB,
    PendingCatch,
    ProcessRun,
    StateCodec,
    WaitStates,
    with_room_for,
)
from retailflow.engine.start_timers import OWNER_PREFIX, is_start_timer, next_start_job
from retailflow.engine.variables import map_inputs, map_outputs
from retailflow.engine.wait_rows import (
    WaitStateRows,
    correlation_key,
    step_history,
    subscriptions,
)
from retailflow.expressions import Dialect, ExpressionEngine
from retailflow.handlers import BpmnError, HandlerContext, HandlerRegistry, RetryPolicy
from retailflow.model import (
    BufferedMessage,
    ConcurrentUpdateError,
    Deployment,
    ExecutionError,
    ExpressionError,
    HistoryEvent,
    HistoryKind,
    Incident,
    Instance,
    InstanceEndedError,
    InstanceStatus,
    Job,
    JobKind,
    JobState,
    NotFoundError,
    ProcessDefinition,
    ProcessKpis,
    RetailflowError,
    SignalDeliveryError,
    StoreUnavailableError,
    Subscription,
    SubscriptionKind,
    UserTask,
    VariableTypeError,
)
from retailflow.model.variables import check_variables, copy_variables
from retailflow.stores import Checkpoint, Store, WaitStateIds, open_store

logger = logging.getLogger(__name__)

_CONFLICT_ATTEMPTS = 5
# What a new instance had stored before its first commit.
_NOTHING_STORED = WaitStateIds()
_MAX_MESSAGE_TTL = timedelta(days=3650)
"""The longest a message may wait in the buffer (ten years): any longer is a mistake."""


class Engine:
    """retailflow's entry point. ``Engine()`` runs in memory; ``Engine("sqlite:///retail.db")``
    keeps everything in a SQLite file, and a new ``Engine`` on the same file resumes every
    instance where it stood.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        handlers: HandlerRegistry | None = None,
        clock: Clock | None = None,
        store: Store | None = None,
        retry_policy: RetryPolicy | None = None,
        worker_id: str | None = None,
        lease: timedelta = timedelta(minutes=5),
        live_cache_size: int = 1000,
    ) -> None:
        self.store: Store = store if store is not None else open_store(url)
        self.handlers = handlers if handlers is not None else HandlerRegistry()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.retry_policy = retry_policy or RetryPolicy()
        self.worker_id = worker_id or f"engine-{uuid.uuid4().hex[:8]}"
        self.lease = lease
        self.expressions = ExpressionEngine(default_dialect=Dialect.PYTHON)
        self._codec = StateCodec()
        self._definitions = DefinitionCache(
            self.store, self.expressions, DecisionEvaluator(self.expressions), self.clock.now
        )
        self._deployer = Deployer(self.store, self.handlers, self.expressions)
        self._rows = WaitStateRows(self.handlers, self.retry_policy, self.expressions)
        self._callouts = CalloutHandlers(self.handlers, self.expressions)
        # Live runs keyed by instance id: saves a read and a deserialization per step when
        # one engine drives an instance from wait state to wait state. A run another writer
        # made stale is caught by the version check at commit, which evicts and re-reads; so
        # does any failure while advancing.
        self._live: OrderedDict[str, _Live] = OrderedDict()
        self._live_cache_size = live_cache_size
        # Jobs this engine created inside run() and claimed in the same commit, so run()
        # executes them without a separate claim transaction.
        self._claimed: deque[Job] = deque()
        self._running = False
        self._claim_batch = 0

    # -- repository --------------------------------------------------------------------------
    def deploy(self, *paths: str | Path, require_handlers: bool = True) -> Deployment:
        """Deploy ``.bpmn``/``.dmn`` files, directories or globs: all of them or none.

        Raises ``DeploymentError`` listing every finding (file, line, element id, hint) when
        anything is wrong, including a service task type with no registered handler (pass
        ``require_handlers=False`` if handlers are bound later)."""
        if not paths:
            raise RetailflowError("deploy needs at least one file, directory or glob")
        return self._deployer.deploy(paths, require_handlers=require_handlers, now=self.clock.now())

    def definitions(self) -> list[ProcessDefinition]:
        """Every deployed definition, by process id and version."""
        return self.store.list_definitions()

    # -- runtime -----------------------------------------------------------------------------
    def start(
        self,
        process_id: str,
        *,
        business_key: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> Instance:
        """Start the latest version of ``process_id`` and advance it to its first wait states."""
        definition = self.store.latest_definition(process_id)
        if definition is None:
            known = ", ".join(sorted({d.process_id for d in self.store.list_definitions()}))
            raise NotFoundError(
                f"no process '{process_id}' is deployed (deployed: "
                f"{known or 'none'}); deploy its file first"
            )
        payload = copy_variables(variables or {}, f"start of '{process_id}'")
        return self._start(definition, business_key, payload)

    def run(
        self,
        *,
        max_jobs: int | None = None,
        stop: threading.Event | None = None,
        claim_batch: int = 64,
    ) -> int:
        """Execute due jobs (handlers and timers) inline until none is due; returns how many
        ran. This is how the demo, tests and small apps work without a worker process.

        ``stop`` ends the run after the job in hand (a worker's graceful shutdown);
        ``claim_batch`` is how many due jobs one claim takes: many for a single process,
        few when workers share the jobs, so that none sits claimed while another worker idles.
        Jobs claimed but not run are given back."""
        self._wake_up_lost()
        executed = 0
        self._running, self._claim_batch = True, claim_batch
        try:
            while (max_jobs is None or executed < max_jobs) and not (stop and stop.is_set()):
                if not self._claimed:
                    now = self.clock.now()
                    self._claimed.extend(
                        self.store.claim_due_jobs(
                            now=now,
                            owner=self.worker_id,
                            lease_until=now + self.lease,
                            limit=claim_batch,
                        )
                    )
                    if not self._claimed:
                        break
                self.execute_job(self._claimed.popleft())
                executed += 1
        finally:
            self._running = False
            self._release_claimed()
        self.store.purge_expired_messages(self.clock.now())
        return executed

    def _wake_up_lost(self) -> None:
        """Deliver buffered messages that an older retailflow left beside the instances that
        wait for them (a lost wake-up, which commits now prevent): re-committing such an
        instance's wait states delivers the message, as any step reaching the catch does."""
        for subscription in self.store.lost_wake_ups(self.clock.now()):
            logger.warning(
                "instance %s waits at %s beside a buffered message; delivering it",
                subscription.instance_id,
                subscription.element_id,
                extra={"instance_id": subscription.instance_id},
            )
            try:
                self._advance(subscription.instance_id, lambda run: None)
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

    def _release_claimed(self) -> None:
        """Give back claimed jobs that did not run; with the database gone, their leases
        expire instead."""
        try:
            while self._claimed:
                self.store.release_job(self._claimed[0].id, owner=self.worker_id)
                self._claimed.popleft()
        except StoreUnavailableError:
            logger.warning(
                "could not give back %d claimed job(s); they are claimable again "
                "when their lease expires",
                len(self._claimed),
                extra={"worker_id": self.worker_id},
            )
            self._claimed.clear()

    def execute_job(self, job: Job) -> None:
        """Run one claimed job to its end: the instance advances, or the failure is recorded."""
        try:
            if is_start_timer(job):
                self._fire_start_timer(job)
            elif job.kind == JobKind.TIMER:
                self._fire_timer(job)
            elif job.kind == JobKind.ACTIVATION:
                self._reactivate(job)
            else:
                self._run_service_job(job)
        except StoreUnavailableError:
            raise
        except (KeyboardInterrupt, SystemExit):
            # The process is going down (Ctrl-C, sys.exit in a handler): give the job back at
            # once rather than leave it claimed until its lease runs out.
            with suppress(RetailflowError):
                self.store.release_job(job.id, owner=self.worker_id)
            raise
        except ConcurrentUpdateError as error:
            # Other writers kept moving the instance on: not a failure of the job, which runs
            # again (at least once, as ever) when given back.
            logger.warning(
                "job %s gave way to concurrent changes of instance %s: %s",
                job.id,
                job.instance_id,
                error,
                extra=_job_fields(job),
            )
            with suppress(NotFoundError, ConcurrentUpdateError):
                self.store.release_job(job.id, owner=self.worker_id)
        except Exception as error:
            # A defect (in retailflow, or a step nothing else caught), not a handler's failure:
            # an incident, so the job is not claimed again forever; the instance stays put.
            logger.exception(
                "job %s of %s failed unexpectedly", job.id, job.instance_id, extra=_job_fields(job)
            )
            self._fail(
                job,
                self._definition_of(job.instance_id),
                f"internal error while running the job: {type(error).__name__}: {error}",
                retryable=False,
            )

    def tasks(
        self,
        *,
        instance: str | Instance | None = None,
        assignee: str | None = None,
        candidate_group: str | None = None,
    ) -> list[UserTask]:
        """Open user tasks, with assignee, candidate groups and form key as drawn."""
        return self.store.list_user_tasks(
            instance_id=_optional_id(instance), assignee=assignee, candidate_group=candidate_group
        )

    def complete_task(
        self, task: str | UserTask, variables: Mapping[str, Any] | None = None
    ) -> Instance:
        """Complete an open user task (or its id) with the variables the person entered."""
        task_id = _id(task)
        task = self.store.get_user_task(task_id)
        payload = copy_variables(variables or {}, f"completion of task '{task.element_id}'")
        return self._advance(task.instance_id, lambda run: run.complete_user_task(task_id, payload))

    def correlate(
        self,
        message: str,
        *,
        key: str | None = None,
        variables: Mapping[str, Any] | None = None,
        ttl: timedelta | None = None,
    ) -> Instance | None:
        """Deliver a message to the instance waiting for ``message`` with correlation ``key``,
        or start a process whose start event catches it. With ``ttl``, a message nobody waits
        for is kept that long for a subscription that opens later (returns ``None``);
        without it, such a message is an error.

        A buffered message wakes exactly one instance, and is never left buffered while an
        instance waits for it: the store serialises buffering with the commits that open
        subscriptions and consume messages (``Store.buffer_message``, ``Checkpoint``)."""
        payload = copy_variables(variables or {}, f"message '{message}'")
        # Correlation keys are kept as text (a key expression's value is too), so 123 and
        # "123" find the same subscription on every store.
        key = None if key is None else str(key)
        if ttl is not None and not (
            isinstance(ttl, timedelta) and timedelta(0) < ttl <= _MAX_MESSAGE_TTL
        ):
            raise RetailflowError(
                f"message '{message}': ttl must be a positive timedelta of at most "
                f"{_MAX_MESSAGE_TTL.days} days, got {ttl!r}"
            )
        for attempt in range(_CONFLICT_ATTEMPTS):
            waiting = self.store.find_subscriptions(SubscriptionKind.MESSAGE, message, key)
            if key is None:
                # A message without a key is for a catch without one, never for any keyed one.
                waiting = [s for s in waiting if s.correlation_key is None]
            subscription = waiting[0] if waiting else None
            if subscription is None:
                starters = self._start_definitions("message", message)
                if starters:
                    return self._start(starters[0], key, payload, deliver=("message", message))
                if ttl is None:
                    raise self._nobody_waits(message, key)
                now = self.clock.now()
                # A subscription opened since the read above is returned instead of buffering.
                subscription = self.store.buffer_message(
                    BufferedMessage(uuid.uuid4().hex, message, key, payload, now + ttl, now)
                )
                if subscription is None:
                    return None
            try:
                return self._deliver_message(subscription, message, payload)
            except NotFoundError:
                # Another message woke that instance first: look again.
                logger.info(
                    "message '%s' lost its subscription to another, looking again",
                    message,
                    extra={"instance_id": subscription.instance_id, "attempt": attempt + 1},
                )
        raise ConcurrentUpdateError(
            f"message '{message}' with key {key!r} lost its "
            f"subscription to others {_CONFLICT_ATTEMPTS} times; "
            "try again"
        )

    def _deliver_message(
        self, subscription: Subscription, message: str, payload: dict[str, Any]
    ) -> Instance:
        return self._advance(
            subscription.instance_id,
            lambda run: run.deliver_message(subscription.id, message, payload),
            extra=[_Note(HistoryKind.MESSAGE_CORRELATED, subscription.element_id, payload)],
        )

    def _nobody_waits(self, message: str, key: str | None) -> NotFoundError:
        """The error for a message without time-to-live that nothing takes now."""
        known = set().union(
            *(
                self._definitions.get(d.id).compiled.message_names()
                for d in self._latest_definitions()
            )
        )
        if message not in known:
            return NotFoundError(
                f"no deployed process catches a message named '{message}' "
                f"(known: {', '.join(sorted(known)) or 'none'})"
            )
        return NotFoundError(
            f"no instance waits for message '{message}' with key {key!r} "
            "now; pass ttl= to keep it until one does"
        )

    def broadcast_signal(
        self, signal: str, variables: Mapping[str, Any] | None = None
    ) -> list[Instance]:
        """Deliver a signal to every instance waiting for it and start every process whose
        start event catches it; returns the instances it reached. One instance that cannot
        take the signal does not keep it from the others: the failures are raised together
        (``SignalDeliveryError``) after every delivery was tried."""
        payload = copy_variables(variables or {}, f"signal '{signal}'")
        reached: list[Instance] = []
        failed: list[tuple[str, RetailflowError]] = []
        for subscription in self.store.find_subscriptions(SubscriptionKind.SIGNAL, signal):
            deliver: Callable[[ProcessRun], None] = partial(
                _deliver_signal, subscription_id=subscription.id, signal=signal, payload=payload
            )
            try:
                reached.append(
                    self._advance(
                        subscription.instance_id,
                        deliver,
                        extra=[
                            _Note(HistoryKind.SIGNAL_RECEIVED, subscription.element_id, payload)
                        ],
                    )
                )
            except RetailflowError as error:
                failed.append((subscription.instance_id, error))
        for definition in self._start_definitions("signal", signal):
            try:
                reached.append(self._start(definition, None, payload, deliver=("signal", signal)))
            except RetailflowError as error:
                failed.append((definition.id, error))
        if failed:
            raise SignalDeliveryError(signal, reached, failed)
        return reached

    def cancel(self, instance: str | Instance) -> Instance:
        """End a running instance where it stands; its jobs, tasks and subscriptions go."""
        return self._advance(_id(instance), lambda run: run.cancel(), cancel=True)

    def retry(self, instance_or_incident: str | Instance | Incident, *, retries: int = 1) -> int:
        """Give the failed jobs of an instance (or of one incident) ``retries`` new runs,
        due now, and resolve their incidents; ``run()`` then executes them. Returns how many
        jobs were retried."""
        if retries < 1:
            raise RetailflowError(f"retry needs at least one run, got retries={retries}")
        instance_or_incident = _id(instance_or_incident)
        incidents = [
            i for i in self.store.list_incidents() if instance_or_incident in (i.id, i.instance_id)
        ]
        if not incidents:
            raise NotFoundError(f"no open incident for '{instance_or_incident}'")
        now = self.clock.now()
        for job_id in dict.fromkeys(i.job_id for i in incidents):
            incident = next(i for i in incidents if i.job_id == job_id)
            self.store.retry_job(
                job_id,
                retries_left=retries,
                due_at=now,
                history=[
                    HistoryEvent(
                        incident.instance_id,
                        self._definition_of(incident.instance_id),
                        HistoryKind.INCIDENT_RESOLVED,
                        now,
                        element_id=incident.element_id,
                        job_id=job_id,
                    )
                ],
            )
        return len({i.job_id for i in incidents})

    # -- history and queries -----------------------------------------------------------------
    def instance(self, instance: str | Instance) -> Instance:
        """One instance (fresh from the store), with its status and latest variables."""
        return self.store.get_instance(_id(instance))

    def instances(
        self,
        *,
        status: InstanceStatus | None = None,
        process_id: str | None = None,
        business_key: str | None = None,
        limit: int | None = None,
        after: str | Instance | None = None,
    ) -> list[Instance]:
        """Instances matching every given filter, oldest first; ``limit`` and ``after`` (the
        last instance of the previous page) page through them."""
        return self.store.list_instances(
            status=status,
            process_id=process_id,
            business_key=business_key,
            limit=limit,
            after=_optional_id(after),
        )

    def history(self, instance: str | Instance) -> list[HistoryEvent]:
        """Every recorded step of an instance, in order."""
        instance_id = _id(instance)
        self.store.get_instance(instance_id)
        return self.store.history(instance_id)

    def incidents(self, *, instance: str | Instance | None = None) -> list[Incident]:
        """Open incidents: jobs that exhausted their retries, or cannot succeed."""
        return self.store.list_incidents(instance_id=_optional_id(instance))

    def jobs(
        self, *, instance: str | Instance | None = None, state: JobState | None = None
    ) -> list[Job]:
        """Jobs (handler calls and timers) waiting to run, by due time; ``state`` keeps those
        due, scheduled, claimed or failed (out of retries) now."""
        jobs = self.store.list_jobs(instance_id=_optional_id(instance))
        if state is None:
            return jobs
        now = self.clock.now()
        return [job for job in jobs if job.state_at(now) == state]

    def subscriptions(self, *, instance: str | Instance) -> list[Subscription]:
        """The messages and signals an instance waits for."""
        return self.store.list_subscriptions(_id(instance))

    def kpis(
        self,
        *,
        process_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        sla: Mapping[str, timedelta] | None = None,
    ) -> list[ProcessKpis]:
        """KPIs per process (or of ``process_id``) for the instances started in ``[since,
        until]`` (``until``: now), as they stood at ``until``: counts, incident rate, cycle
        time p50/p90, SLA breaches against ``sla`` (process id -> target), and per step
        counts, durations and conversion. Reads the history in one pass (docs/api.md, KPIs)."""
        return compute_kpis(
            self.store,
            now=self.clock.now(),
            process_id=process_id,
            since=since,
            until=until,
            sla=sla,
        )

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals: starting and advancing -----------------------------------------------------
    def _start(
        self,
        definition: ProcessDefinition,
        business_key: str | None,
        variables: dict[str, Any],
        deliver: tuple[str, str] | None = None,
    ) -> Instance:
        loaded = self._definitions.get(definition.id)
        instance = self._new_instance(definition, business_key)
        started = _Note(HistoryKind.INSTANCE_STARTED, None, dict(variables))
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

        return self._commit_new(instance, begin, extra=[started])

    def _commit_new(
        self,
        instance: Instance,
        begin: Callable[[], ProcessRun],
        *,
        extra: Sequence[_Note],
        schedules: dict[str, list[Job]] | None = None,
    ) -> Instance:
        """Commit a new instance's first step, run by ``begin``. A step that met a message
        concurrently (one it delivered was consumed by another instance, or one was buffered
        for a subscription it opened) is refused by the store and taken again from the start,
        as ``_advance`` re-applies a step to an instance another writer moved on."""
        for attempt in range(_CONFLICT_ATTEMPTS):
            try:
                compiled = self._definitions.get(instance.definition_id).compiled
                return self._commit(
                    instance,
                    with_room_for(compiled, begin),
                    expected_version=None,
                    extra=extra,
                    schedules=schedules,
                )
            except ConcurrentUpdateError as error:
                logger.info(
                    "first step met a concurrent message, taking it again: %s",
                    error,
                    extra={"instance_id": instance.id, "attempt": attempt + 1},
                )
        raise ConcurrentUpdateError(
            f"the first step of instance '{instance.id}' met concurrent "
            f"messages {_CONFLICT_ATTEMPTS} times; try again"
        )

    def _new_instance(self, definition: ProcessDefinition, business_key: str | None) -> Instance:
        """A new running instance of ``definition``, started now (not stored yet)."""
        return Instance(
            id=uuid.uuid4().hex,
            definition_id=definition.id,
            process_id=definition.process_id,
            business_key=business_key,
            status=InstanceStatus.RUNNING,
            started_at=self.clock.now(),
        )

    def _advance(
        self,
        instance_id: str,
        action: Callable[[ProcessRun], None],
        *,
        extra: Sequence[_Note] = (),
        cancel: bool = False,
        job: Job | None = None,
    ) -> Instance:
        """Load (or reuse) the live run, apply ``action``, commit; re-read and re-apply when
        another writer got there first."""
        for attempt in range(_CONFLICT_ATTEMPTS):
            cached = instance_id in self._live
            live = self._live_run(instance_id)
            instance, run = live.instance, live.run
            if instance.status != InstanceStatus.RUNNING:
                raise InstanceEndedError(instance_id, instance.status)
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
                )
            except ConcurrentUpdateError:
                self._live.pop(instance_id, None)
                logger.info(
                    "instance changed meanwhile, re-applying",
                    extra={"instance_id": instance_id, "attempt": attempt + 1},
                )
            except NotFoundError:
                # A cached run another engine moved on may not know the task: re-read once.
                self._live.pop(instance_id, None)
                if not cached:
                    raise
            except BaseException:
                # Whatever failed, the run may be half-advanced: never reuse it.
                self._live.pop(instance_id, None)
                raise
        raise ConcurrentUpdateError(
            f"instance '{instance_id}' kept changing under {_CONFLICT_ATTEMPTS} attempts; try again"
        )

    def _live_run(self, instance_id: str) -> _Live:
        cached = self._live.get(instance_id)
        if cached is not None:
            self._live.move_to_end(instance_id)
            return cached
        instance, state = self.store.load_state(instance_id)
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
                f"instance '{instance_id}' ({instance.definition_id}): {error}; "
                "its stored state does not match its definition's files"
            ) from error
        return _Live(instance, run, None)

    def _commit(
        self,
        instance: Instance,
        run: ProcessRun,
        *,
        expected_version: int | None,
        extra: Sequence[_Note] = (),
        cancelled: bool = False,
        job: Job | None = None,
        stored: WaitStateIds | None = _NOTHING_STORED,
        schedules: dict[str, list[Job]] | None = None,
    ) -> Instance:
        """Write the step. ``stored`` are the wait-state ids stored before it (``None`` when
        not known): the store need not read them, and inside ``run()`` the jobs the step
        creates can be claimed in the same commit."""
        now = self.clock.now()
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
        try:
            # Whatever reached the data past the checks at the API (a mapping's result, a
            # branch's variables) is refused here, where it becomes an incident, never in the
            # store's driver.
            check_variables(variables, f"instance '{instance.id}'")
            state = run.dump(self._codec)
        except VariableTypeError as error:
            raise ExecutionError(str(error)) from error
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
        elif run.completed:
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
        jobs = self._rows.jobs(updated, waits, now)
        claimed = self._claim_new(jobs, None if stored is None else stored.jobs, now)
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
        self.store.commit(checkpoint)
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
        self._claimed.extend(claimed)
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
        self._deliver_thrown(run)
        return updated

    def _claim_new(self, jobs: list[Job], known: frozenset[str] | None, now: datetime) -> list[Job]:
        """Inside ``run()``, new jobs that are due now are stored already claimed by this
        engine (a crash leaves them to lease expiry, like any claim), as many as keep the jobs
        in hand within ``run()``'s claim batch."""
        if not self._running or known is None:
            return []
        claimed: list[Job] = []
        for index, job in enumerate(jobs):
            if len(self._claimed) + len(claimed) >= self._claim_batch:
                break  # no more than one claim's worth in hand: the rest is for other workers
            if job.id not in known and job.kind == JobKind.SERVICE and job.due_at <= now:
                jobs[index] = job = replace(
                    job, attempt=1, lock_owner=self.worker_id, lock_expires_at=now + self.lease
                )
                claimed.append(job)
        return claimed

    def _remember(self, live: _Live) -> None:
        self._live[live.instance.id] = live
        self._live.move_to_end(live.instance.id)
        while len(self._live) > self._live_cache_size:
            self._live.popitem(last=False)

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
            for message in self.store.take_buffered_messages(
                catch.name, correlation_key(catch, instance), now
            ):
                if message.id not in consumed:
                    return catch, message
        return None

    def _deliver_thrown(self, run: ProcessRun) -> None:
        """Deliver what the committed step threw. The thrower's step is already committed, so
        a receiver that cannot take the event (or a conflict while delivering it) is logged
        here, never raised into the thrower's call, which would fail a call whose work is done
        (or, on a conflict, take the committed step again)."""
        for thrown in run.drain_thrown():
            try:
                if thrown.kind == "signal":
                    self.broadcast_signal(thrown.name, thrown.variables)
                else:
                    self.correlate(thrown.name, variables=thrown.variables)
            except NotFoundError:
                logger.warning("thrown %s '%s' reached no instance", thrown.kind, thrown.name)
            except RetailflowError as error:
                logger.error(
                    "thrown %s '%s' could not be delivered: %s", thrown.kind, thrown.name, error
                )

    # -- internals: jobs -----------------------------------------------------------------------
    def _run_service_job(self, job: Job) -> None:
        try:
            instance, (config, visible, element_id) = self._job_task(job)
        except NotFoundError:
            self._drop(job)
            return
        if job.id.endswith(ASYNC_AFTER_JOB):
            # The wait state after a task's camunda:asyncAfter: its handler has run already.
            self._complete(job, instance, lambda run: run.complete_job(job.id, {}))
            return
        handler = self._callouts.job_handler(config, job.topic or "")
        if handler is None:
            self._fail(
                job,
                instance.definition_id,
                f"no handler is registered for job type '{job.topic}'",
                retryable=False,
            )
            return
        context = HandlerContext.for_job(job, instance, config.headers)
        try:
            inputs = map_inputs(config.inputs, visible, self.expressions, element_id)
            result = handler.invoke(inputs, context)
            updates = copy_variables(
                map_outputs(config.outputs, inputs, result, self.expressions, element_id),
                f"handler '{job.topic}' at '{element_id}'",
            )
        except BpmnError as error:
            self._route_bpmn_error(job, instance, error)
            return
        except RetailflowError as error:
            # Each says whether trying again can help: a timeout or a database outage inside
            # the handler can, wrong inputs or a refused expression cannot.
            self._fail(job, instance.definition_id, str(error), retryable=error.retryable)
            return
        except Exception as error:  # a handler's technical failure: retried with backoff
            logger.warning(
                "handler '%s' failed at %s of instance %s (attempt %d)",
                job.topic,
                element_id,
                job.instance_id,
                job.attempt,
                exc_info=True,
                extra=_job_fields(job),
            )
            self._fail(
                job, instance.definition_id, f"{type(error).__name__}: {error}", retryable=True
            )
            return
        if self._complete(job, instance, lambda run: run.complete_job(job.id, updates)):
            logger.info(
                "job completed: %s at %s of instance %s (attempt %d)",
                job.topic,
                element_id,
                job.instance_id,
                job.attempt,
                extra=_job_fields(job),
            )

    def _route_bpmn_error(self, job: Job, instance: Instance, error: BpmnError) -> None:
        try:
            check_variables(
                error.variables,
                f"BPMN error '{error.code}' of handler '{job.topic}' at '{job.element_id}'",
            )
        except VariableTypeError as refused:
            self._fail(job, instance.definition_id, str(refused), retryable=False)
            return
        thrown = _Note(
            HistoryKind.BPMN_ERROR_THROWN,
            job.element_id,
            {"code": error.code, "message": error.message, **error.variables},
        )

        def throw(run: ProcessRun) -> None:
            if not run.throw_error(job.id, error.code, error.variables):
                raise _Uncaught

        try:
            if self._complete(job, instance, throw, extra=[thrown]):
                logger.info(
                    "BPMN error %s thrown at %s of instance %s was caught",
                    error.code,
                    job.element_id,
                    job.instance_id,
                    extra=_job_fields(job),
                )
        except _Uncaught:
            self._fail(
                job,
                instance.definition_id,
                f"BPMN error '{error.code}' is not caught by any error event here; draw "
                "an error boundary event for it",
                retryable=False,
            )

    def _fire_start_timer(self, job: Job) -> None:
        """A timer start event is due: start an instance and move the schedule on, in one
        commit."""
        definition = self.store.get_definition(job.topic or "")
        latest = self.store.latest_definition(definition.process_id)
        if latest is not None and latest.id != definition.id:
            self._drop(job)  # a newer version replaced this schedule while it was claimed
            return
        loaded = self._definitions.get(definition.id)
        instance = self._new_instance(definition, business_key=None)

        def begin() -> ProcessRun:
            run = ProcessRun.start(
                loaded.compiled,
                {},
                loaded.script_engine,
                start_event=job.element_id,
                callouts=self._callouts.runner(instance),
            )
            run.fire_start_timer(job.element_id)
            return run

        try:
            following = next_start_job(job, loaded.compiled, self.expressions)
            self._commit_new(
                instance,
                begin,
                extra=[
                    _Note(HistoryKind.INSTANCE_STARTED, None, {}),
                    _Note(HistoryKind.TIMER_FIRED, job.element_id, {}),
                ],
                schedules={job.instance_id: [following] if following else []},
            )
        except (ExecutionError, ExpressionError, VariableTypeError) as error:
            self._fail(job, definition.id, str(error), retryable=False)

    def _fire_timer(self, job: Job) -> None:
        instance = self.store.get_instance(job.instance_id)
        task_id = job.id.split("@", 1)[0]
        fired = _Note(HistoryKind.TIMER_FIRED, job.element_id, {})
        if self._complete(
            job, instance, lambda run: run.fire_timer(task_id, job.element_id), extra=[fired]
        ):
            logger.info(
                "timer fired: %s of instance %s",
                job.element_id,
                job.instance_id,
                extra=_job_fields(job),
            )

    def _reactivate(self, job: Job) -> None:
        """A retried incident of a wait state that failed to set up: set it up again (a timer
        evaluates its due time anew); nothing before it runs again."""
        instance = self.store.get_instance(job.instance_id)
        task_id = job.id.split("@", 1)[0]
        if self._complete(job, instance, lambda run: run.reactivate(task_id, job.element_id)):
            logger.info(
                "wait state %s of instance %s set up again",
                job.element_id,
                job.instance_id,
                extra=_job_fields(job),
            )

    def _job_task(self, job: Job) -> tuple[Instance, tuple[Any, dict[str, Any], str]]:
        """The instance and the waiting task of a job; a cached run that does not know the
        task (another writer moved on) is re-read once before giving up."""
        for _ in range(2):
            live = self._live_run(job.instance_id)
            try:
                return live.instance, live.run.job_variables(job.id)
            except NotFoundError:
                self._live.pop(job.instance_id, None)
        raise NotFoundError(f"job '{job.id}' no longer matches a waiting task")

    def _drop(self, job: Job) -> None:
        """A job whose task no longer waits (another step moved the instance on)."""
        logger.warning(
            "job %s no longer matches a waiting task of instance %s; dropping it",
            job.id,
            job.instance_id,
            extra=_job_fields(job),
        )
        with suppress(NotFoundError, ConcurrentUpdateError):
            self.store.release_job(job.id, owner=self.worker_id)

    def _complete(
        self,
        job: Job,
        instance: Instance,
        action: Callable[[ProcessRun], None],
        extra: Sequence[_Note] = (),
    ) -> bool:
        """Advance the instance past the job; False when it could not (failed or dropped)."""
        try:
            self._advance(job.instance_id, action, extra=extra, job=job)
        except (ExecutionError, ExpressionError, VariableTypeError) as error:
            # The step after the job cannot be taken (a condition fails, data is missing, a
            # delegate's handler failed): the instance stays where it was, and the job is
            # retried when that may help (CalloutError), else an incident names the element.
            self._fail(job, instance.definition_id, str(error), retryable=error.retryable)
            return False
        except NotFoundError:
            self._drop(job)
            return False
        except InstanceEndedError as ended:
            # Cancelled (or ended by another path) while the handler ran: an expected outcome;
            # the instance's jobs went with it, and the handler's result has nowhere to go.
            logger.info(
                "the result of job %s is discarded: instance %s is %s",
                job.id,
                job.instance_id,
                ended.status,
                extra=_job_fields(job),
            )
            return False
        return True

    def _fail(self, job: Job, definition_id: str, message: str, *, retryable: bool) -> None:
        """Record a failed run of ``job``: one fewer retry and a backoff, or an incident. A
        worker whose lease ran out (another took the job over) or whose job is gone (the
        instance moved on or was cancelled) records nothing: the job is no longer its own."""
        now = self.clock.now()
        retries_left = job.retries_left - 1 if retryable else 0
        incident = None
        history = [
            HistoryEvent(
                job.instance_id,
                definition_id,
                HistoryKind.JOB_FAILED,
                now,
                element_id=job.element_id,
                attempt=job.attempt,
                job_id=job.id,
                variables={"error": message},
            )
        ]
        if retries_left <= 0:
            retries_left = 0
            incident = Incident(
                uuid.uuid4().hex, job.instance_id, job.id, job.element_id, message, now
            )
            history.append(
                HistoryEvent(
                    job.instance_id,
                    definition_id,
                    HistoryKind.INCIDENT_OPENED,
                    now,
                    element_id=job.element_id,
                    job_id=job.id,
                    variables={"error": message},
                )
            )
        due = now + self.retry_policy.backoff(job.attempt)
        try:
            self.store.fail_job(
                job.id,
                owner=self.worker_id,
                error=message,
                retries_left=retries_left,
                due_at=due,
                incident=incident,
                history=history,
            )
        except (ConcurrentUpdateError, NotFoundError) as refused:
            logger.warning(
                "the failure of job %s was not recorded: %s",
                job.id,
                refused,
                extra=_job_fields(job),
            )
            return
        if incident is not None:
            logger.error(
                "incident opened at %s of instance %s: %s",
                job.element_id,
                job.instance_id,
                message,
                extra=_job_fields(job),
            )

    # -- internals: building the checkpoint ----------------------------------------------------
    def _definition_of(self, owner: str) -> str:
        """The definition id of an instance, or of a start schedule's owner."""
        if owner.startswith(OWNER_PREFIX):
            return owner.removeprefix(OWNER_PREFIX)
        return self.store.get_instance(owner).definition_id

    def _latest_definitions(self) -> list[ProcessDefinition]:
        latest: dict[str, ProcessDefinition] = {}
        for definition in self.store.list_definitions():
            latest[definition.process_id] = definition
        return list(latest.values())

    def _start_definitions(self, kind: str, name: str) -> list[ProcessDefinition]:
        return [
            definition
            for definition in self._latest_definitions()
            if any(
                event_name == name
                for _, event_name in self._definitions.get(definition.id).compiled.start_events(
                    kind
                )
            )
        ]


@dataclass(frozen=True, slots=True)
class _Live:
    """A live run as of its last commit, with the wait-state ids that commit stored (``None``
    for a run read from the store)."""

    instance: Instance
    run: ProcessRun
    stored: WaitStateIds | None


@dataclass(frozen=True, slots=True)
class _Note:
    """A history event the engine adds to a step; the commit stamps instance and time."""

    kind: HistoryKind
    element_id: str | None
    variables: dict[str, Any]


class _Uncaught(Exception):
    """Internal: a BPMN error found no catch, so the step is abandoned."""


def _deliver_signal(
    run: ProcessRun, *, subscription_id: str, signal: str, payload: dict[str, Any]
) -> None:
    run.deliver_signal(subscription_id, signal, payload)


def _job_fields(job: Job) -> dict[str, str]:
    """The ids a log line about a job carries, for structured logging."""
    return {"instance_id": job.instance_id, "element_id": job.element_id, "job_id": job.id}


def _id(value: str | Instance | Incident | UserTask) -> str:
    """Public methods take an id or the object that has it."""
    if isinstance(value, str):
        return value
    if isinstance(value, Instance | Incident | UserTask):
        return value.id
    raise NotFoundError(f"expected an id or the object that has it, got {value!r}")


def _optional_id(value: str | Instance | None) -> str | None:
    """A filter's id, from an id or the object that has it; ``None``: no filter."""
    return None if value is None else _id(value)
