"""The Engine: deploy, start, run jobs, complete user tasks, correlate messages, and look back.

This is what users call; the machinery sits beside it. Every operation moves one instance from
its wait states to the next ones inside one store commit (``InstanceStepper``, stepping.py):
the instance's state, jobs, subscriptions, user tasks, incidents and history land together or
not at all. Jobs run in ``JobRunner`` (job_runner.py): handlers between commits, never inside
one.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from retailflow.bpmn import SourceFile
from retailflow.decisions import DecisionEvaluator
from retailflow.engine.actors import current_actor
from retailflow.engine.callouts import CalloutHandlers
from retailflow.engine.claim_budget import ClaimBudget
from retailflow.engine.clock import Clock, SystemClock
from retailflow.engine.definitions import DefinitionCache
from retailflow.engine.deployer import Deployer
from retailflow.engine.job_runner import JobRunner, definition_of
from retailflow.engine.kpis import compute_kpis
from retailflow.engine.spiff import ProcessRun, Thrown
from retailflow.engine.start_timers import is_start_timer
from retailflow.engine.stepping import CONFLICT_ATTEMPTS, InstanceStepper, Note
from retailflow.engine.wait_rows import WaitStateRows
from retailflow.expressions import Dialect, ExpressionEngine
from retailflow.handlers import HandlerLoop, HandlerRegistry, RetryPolicy
from retailflow.model import (
    BufferedMessage,
    ConcurrentUpdateError,
    Deployment,
    HistoryEvent,
    HistoryKind,
    Incident,
    Instance,
    InstanceQuery,
    InstanceStatus,
    Job,
    JobKind,
    JobState,
    NotFoundError,
    ProcessDefinition,
    ProcessKpis,
    RetailflowError,
    SignalDeliveryError,
    Subscription,
    SubscriptionKind,
    UserTask,
)
from retailflow.model.variables import copy_variables
from retailflow.stores import Durability, Store, open_store

logger = logging.getLogger(__name__)

_MAX_MESSAGE_TTL = timedelta(days=3650)
"""The longest a message may wait in the buffer (ten years): any longer is a mistake."""


class Engine:
    """retailflow's entry point. ``Engine()`` runs in memory; ``Engine("sqlite:///retail.db")``
    keeps everything in a SQLite file, and a new ``Engine`` on the same file resumes every
    instance where it stood. Every wait state is committed; ``durability="full"`` (or the
    URL's ``?durability=full``) makes each commit survive a power loss too, not only a crash of
    the process (see ``retailflow.stores.Durability``).

    ``async def`` handlers run on ``handler_loop``: by default the engine's own event loop, in
    a thread started with the first async handler and stopped by ``close()``; engines that
    should share their handlers' async clients share one (a worker's threads do). From async
    code, drive the engine through ``AsyncEngine``.
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
        durability: Durability | None = None,
        handler_loop: HandlerLoop | None = None,
    ) -> None:
        if store is not None and durability is not None:
            raise RetailflowError(
                "durability is a setting of the store the engine opens from its URL; a store "
                "passed in keeps its own (SqlStore(url, durability=...))"
            )
        self.store: Store = store if store is not None else open_store(url, durability=durability)
        self.handlers = handlers if handlers is not None else HandlerRegistry()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.retry_policy = retry_policy or RetryPolicy()
        self.worker_id = worker_id or f"engine-{uuid.uuid4().hex[:8]}"
        self.lease = lease
        self.expressions = ExpressionEngine(default_dialect=Dialect.PYTHON)
        self._definitions = DefinitionCache(
            self.store, self.expressions, DecisionEvaluator(self.expressions), self.clock.now
        )
        self._deployer = Deployer(self.store, self.handlers, self.expressions)
        # A loop passed in belongs to whoever passed it, and outlives this engine.
        self._own_handler_loop = handler_loop is None
        self.handler_loop = handler_loop if handler_loop is not None else HandlerLoop()
        callouts = CalloutHandlers(self.handlers, self.expressions, self.handler_loop)
        self._stepper = InstanceStepper(
            self.store,
            self.clock,
            self._definitions,
            WaitStateRows(self.handlers, self.retry_policy, self.expressions),
            callouts,
            thrown_to=self._receive_thrown,
            live_cache_size=live_cache_size,
        )
        self._jobs = JobRunner(
            self.store,
            self.clock,
            self._stepper,
            self._definitions,
            callouts,
            self.expressions,
            self.retry_policy,
            worker_id=self.worker_id,
            lease=self.lease,
        )

    # -- repository --------------------------------------------------------------------------
    def deploy(self, *paths: str | Path, require_handlers: bool = True) -> Deployment:
        """Deploy ``.bpmn``/``.dmn`` files, directories or globs: all of them or none.

        Raises ``DeploymentError`` listing every finding (file, line, element id, hint) when
        anything is wrong, including a service task type with no registered handler (pass
        ``require_handlers=False`` if handlers are bound later)."""
        if not paths:
            raise RetailflowError("deploy needs at least one file, directory or glob")
        return self._deployer.deploy(paths, require_handlers=require_handlers, now=self.clock.now())

    def deploy_files(
        self, files: Mapping[str, bytes], *, require_handlers: bool = True
    ) -> Deployment:
        """Deploy files held in memory (name -> content; the name's suffix says ``.bpmn`` or
        ``.dmn``), all or none, as ``deploy`` does: what the REST API's upload calls."""
        if not files:
            raise RetailflowError("deploy needs at least one .bpmn or .dmn file")
        sources = [SourceFile.of(name, content) for name, content in files.items()]
        return self._deployer.deploy_sources(
            sources, require_handlers=require_handlers, now=self.clock.now()
        )

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
        return self._stepper.start(definition, business_key, payload)

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
        self._stepper.wake_up_lost()
        executed = self._jobs.run_due(max_jobs=max_jobs, stop=stop, claim_batch=claim_batch)
        self.store.purge_expired_messages(self.clock.now())
        return executed

    def execute_job(self, job: Job) -> None:
        """Run one claimed job to its end: the instance advances, or the failure is recorded."""
        self._jobs.execute(job)

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
        return self._stepper.advance(
            task.instance_id, lambda run: run.complete_user_task(task_id, payload)
        )

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
        return self._correlate(message, key, variables, ttl, budget=None)

    def _correlate(
        self,
        message: str,
        key: str | None,
        variables: Mapping[str, Any] | None,
        ttl: timedelta | None,
        budget: ClaimBudget | None,
    ) -> Instance | None:
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
        for attempt in range(CONFLICT_ATTEMPTS):
            waiting = self.store.find_subscriptions(SubscriptionKind.MESSAGE, message, key)
            if key is None:
                # A message without a key is for a catch without one, never for any keyed one.
                waiting = [s for s in waiting if s.correlation_key is None]
            subscription = waiting[0] if waiting else None
            if subscription is None:
                starters = self._start_definitions("message", message)
                if starters:
                    return self._stepper.start(
                        starters[0], key, payload, deliver=("message", message), budget=budget
                    )
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
                return self._deliver_message(subscription, message, payload, budget)
            except NotFoundError:
                # Another message woke that instance first: look again.
                logger.info(
                    "message '%s' lost its subscription to another, looking again",
                    message,
                    extra={"instance_id": subscription.instance_id, "attempt": attempt + 1},
                )
        raise ConcurrentUpdateError(
            f"message '{message}' with key {key!r} lost its "
            f"subscription to others {CONFLICT_ATTEMPTS} times; "
            "try again"
        )

    def _deliver_message(
        self,
        subscription: Subscription,
        message: str,
        payload: dict[str, Any],
        budget: ClaimBudget | None,
    ) -> Instance:
        return self._stepper.advance(
            subscription.instance_id,
            lambda run: run.deliver_message(subscription.id, message, payload),
            extra=[Note(HistoryKind.MESSAGE_CORRELATED, subscription.element_id, payload)],
            budget=budget,
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
        return self._broadcast(signal, variables, budget=None)

    def _broadcast(
        self, signal: str, variables: Mapping[str, Any] | None, budget: ClaimBudget | None
    ) -> list[Instance]:
        payload = copy_variables(variables or {}, f"signal '{signal}'")
        reached: list[Instance] = []
        failed: list[tuple[str, RetailflowError]] = []
        for subscription in self.store.find_subscriptions(SubscriptionKind.SIGNAL, signal):
            deliver: Callable[[ProcessRun], None] = partial(
                _deliver_signal, subscription_id=subscription.id, signal=signal, payload=payload
            )
            try:
                reached.append(
                    self._stepper.advance(
                        subscription.instance_id,
                        deliver,
                        extra=[Note(HistoryKind.SIGNAL_RECEIVED, subscription.element_id, payload)],
                        budget=budget,
                    )
                )
            except RetailflowError as error:
                failed.append((subscription.instance_id, error))
        for definition in self._start_definitions("signal", signal):
            try:
                reached.append(
                    self._stepper.start(
                        definition, None, payload, deliver=("signal", signal), budget=budget
                    )
                )
            except RetailflowError as error:
                failed.append((definition.id, error))
        if failed:
            raise SignalDeliveryError(signal, reached, failed)
        return reached

    def cancel(self, instance: str | Instance) -> Instance:
        """End a running instance where it stands; its jobs, tasks and subscriptions go."""
        return self._stepper.advance(_id(instance), lambda run: run.cancel(), cancel=True)

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
                        definition_of(self.store, incident.instance_id),
                        HistoryKind.INCIDENT_RESOLVED,
                        now,
                        element_id=incident.element_id,
                        job_id=job_id,
                        actor=current_actor(),
                    )
                ],
            )
        return len({i.job_id for i in incidents})

    def set_variables(self, instance: str | Instance, variables: Mapping[str, Any]) -> Instance:
        """Change process variables of a running instance where it stands (an operator's
        fix before a retry, say); the step is recorded as ``variables_set`` with the new
        values."""
        instance_id = _id(instance)
        payload = copy_variables(variables, f"variables set on instance '{instance_id}'")
        if not payload:
            raise RetailflowError("set_variables needs at least one variable")
        return self._stepper.advance(
            instance_id,
            lambda run: run.set_variables(payload),
            extra=[Note(HistoryKind.VARIABLES_SET, None, payload)],
        )

    def fire_timer(self, job: str | Job) -> Instance:
        """Fire an instance's waiting timer now, before its due time (an operator who will
        not wait out a reminder, say): the instance moves on as if the time had come."""
        job = self.store.get_job(job if isinstance(job, str) else job.id)
        if job.kind != JobKind.TIMER or is_start_timer(job):
            raise RetailflowError(
                f"job '{job.id}' is a {job.kind.value} job, not an instance's timer; "
                "engine.jobs(instance=...) lists an instance's timers"
            )
        task_id = job.id.split("@", 1)[0]
        return self._stepper.advance(
            job.instance_id,
            lambda run: run.fire_timer(task_id, job.element_id),
            extra=[Note(HistoryKind.TIMER_FIRED, job.element_id, {})],
        )

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

    def search_instances(self, query: InstanceQuery) -> list[Instance]:
        """One page of the instances ``query`` selects: by process, status, business key, a
        variable's value and start time, oldest or newest first (see ``InstanceQuery``)."""
        return self.store.search_instances(query)

    def count_instances(self) -> dict[tuple[str, InstanceStatus], int]:
        """How many instances each process id has in each status."""
        return self.store.count_instances()

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
        """Release the store's connections and stop the engine's own handler loop."""
        if self._own_handler_loop:
            self.handler_loop.close()
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------------
    def _receive_thrown(self, thrown: Thrown, budget: ClaimBudget | None) -> None:
        """Deliver a signal or message a committed step threw, as ``broadcast_signal`` and
        ``correlate`` would, within the claim budget of the ``run()`` that took the step."""
        if thrown.kind == "signal":
            self._broadcast(thrown.name, thrown.variables, budget)
        else:
            self._correlate(thrown.name, None, thrown.variables, None, budget)

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


def _deliver_signal(
    run: ProcessRun, *, subscription_id: str, signal: str, payload: dict[str, Any]
) -> None:
    run.deliver_signal(subscription_id, signal, payload)


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
