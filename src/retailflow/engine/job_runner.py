"""Running claimed jobs: handlers, timers, start timers and wait states set up again.

A service job's handler runs outside any transaction; its result (or the BPMN error it raised)
is then committed as one step of the instance (``InstanceStepper``). A handler that fails is
retried with backoff until its retries are spent, then becomes an incident: the instance stays
where it was. ``run_due`` is ``Engine.run()``'s loop: claim due jobs, run them, give back the
ones it did not run, and commits the steps of many instances together (``GroupCommit``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import timedelta

from retailflow.engine import handler_timing
from retailflow.engine.callouts import CalloutHandlers
from retailflow.engine.claim_budget import ClaimBudget
from retailflow.engine.clock import Clock
from retailflow.engine.definitions import DefinitionCache
from retailflow.engine.group_commit import GroupCommit
from retailflow.engine.spiff import ASYNC_AFTER_JOB, ProcessRun
from retailflow.engine.start_timers import OWNER_PREFIX, is_start_timer, next_start_job
from retailflow.engine.stepping import InstanceStepper, Note
from retailflow.engine.variables import map_inputs, map_outputs
from retailflow.expressions import ExpressionEngine
from retailflow.handlers import BpmnError, HandlerContext, RetryPolicy
from retailflow.model import (
    ConcurrentUpdateError,
    ExecutionError,
    ExpressionError,
    HistoryEvent,
    HistoryKind,
    Incident,
    Instance,
    InstanceEndedError,
    Job,
    JobKind,
    NotFoundError,
    RetailflowError,
    StoreUnavailableError,
    VariableTypeError,
)
from retailflow.model.variables import check_variables, copy_variables
from retailflow.stores import Store

logger = logging.getLogger(__name__)


class JobRunner:
    """Runs the jobs this engine (``worker_id``) claimed, each to its end."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        stepper: InstanceStepper,
        definitions: DefinitionCache,
        callouts: CalloutHandlers,
        expressions: ExpressionEngine,
        retry_policy: RetryPolicy,
        *,
        worker_id: str,
        lease: timedelta,
    ) -> None:
        self._store = store
        self._clock = clock
        self._stepper = stepper
        self._definitions = definitions
        self._callouts = callouts
        self._expressions = expressions
        self._retry_policy = retry_policy
        self._worker_id = worker_id
        self._lease = lease

    def run_due(
        self, *, max_jobs: int | None, stop: threading.Event | None, claim_batch: int
    ) -> int:
        """Claim due jobs ``claim_batch`` at a time and run them until none is due, ``max_jobs``
        ran or ``stop`` is set; returns how many ran. The jobs the steps create and claim for
        this run (``ClaimBudget``) run before the next claim; jobs claimed but not run are given
        back. The steps of different instances are committed a group at a time, at most a
        claim's worth per transaction; each instance's next step starts from a committed one."""
        budget = ClaimBudget(self._worker_id, self._lease, claim_batch)
        group = GroupCommit(self._store, claim_batch)
        executed = 0
        try:
            while (max_jobs is None or executed < max_jobs) and not (stop and stop.is_set()):
                if (budget.in_hand and group.holds(budget.in_hand[0])) or group.full:
                    group.flush()  # may take back jobs its refused steps had claimed
                    continue
                if not budget.in_hand:
                    group.flush()
                    if budget.in_hand:
                        continue  # steps taken again after a refusal claimed jobs
                    now = self._clock.now()
                    budget.hold(
                        self._store.claim_due_jobs(
                            now=now,
                            owner=self._worker_id,
                            lease_until=now + self._lease,
                            limit=claim_batch,
                        )
                    )
                    if not budget.in_hand:
                        break
                job = budget.in_hand.popleft()
                try:
                    self.execute(job, budget, group)
                except StoreUnavailableError:
                    # Given back with the rest: a worker that lives on (liveness keeps its
                    # claims) would otherwise hold it until its lease ran out.
                    budget.in_hand.appendleft(job)
                    raise
                executed += 1
            group.flush()
        except BaseException:
            # Steps whose handlers ran are committed if the database lets them be.
            with suppress(RetailflowError):
                group.flush()
            raise
        finally:
            self._release(budget)
        return executed

    def _release(self, budget: ClaimBudget) -> None:
        """Give back claimed jobs that did not run; with the database gone, their leases
        expire instead."""
        try:
            while budget.in_hand:
                self._store.release_job(budget.in_hand[0].id, owner=self._worker_id)
                budget.in_hand.popleft()
        except StoreUnavailableError:
            logger.warning(
                "could not give back %d claimed job(s); they are claimable again "
                "when their lease expires",
                len(budget.in_hand),
                extra={"worker_id": self._worker_id},
            )
            budget.in_hand.clear()

    def execute(
        self, job: Job, budget: ClaimBudget | None = None, group: GroupCommit | None = None
    ) -> None:
        """Run one claimed job to its end: the instance advances, or the failure is recorded.
        With a ``budget`` (inside ``run_due``), the jobs its step creates may be claimed for
        the same run; with a ``group``, its step is committed with the group's."""
        if is_start_timer(job):
            self._guarded(job, lambda: self._fire_start_timer(job, budget))
        elif job.kind == JobKind.TIMER:
            self._guarded(job, lambda: self._fire_timer(job, budget, group))
        elif job.kind == JobKind.ACTIVATION:
            self._guarded(job, lambda: self._reactivate(job, budget, group))
        else:
            self._guarded(job, lambda: self._run_service_job(job, budget, group))

    def _guarded(self, job: Job, run: Callable[[], object]) -> None:
        """Run a job's work; what goes wrong is the job's to record, never the run's."""
        try:
            run()
        except StoreUnavailableError:
            raise
        except (KeyboardInterrupt, SystemExit):
            # The process is going down (Ctrl-C, sys.exit in a handler): give the job back at
            # once rather than leave it claimed until its lease runs out.
            with suppress(RetailflowError):
                self._store.release_job(job.id, owner=self._worker_id)
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
                self._store.release_job(job.id, owner=self._worker_id)
        except Exception as error:
            # A defect (in retailflow, or a step nothing else caught), not a handler's failure:
            # an incident, so the job is not claimed again forever; the instance stays put.
            logger.exception(
                "job %s of %s failed unexpectedly", job.id, job.instance_id, extra=_job_fields(job)
            )
            self._fail(
                job,
                definition_of(self._store, job.instance_id),
                f"internal error while running the job: {type(error).__name__}: {error}",
                retryable=False,
            )

    def _run_service_job(
        self, job: Job, budget: ClaimBudget | None, group: GroupCommit | None
    ) -> None:
        try:
            instance, (config, visible, element_id) = self._stepper.job_task(job)
        except NotFoundError:
            self._drop(job)
            return
        if job.id.endswith(ASYNC_AFTER_JOB):
            # The wait state after a task's camunda:asyncAfter: its handler has run already.
            self._complete(job, instance, lambda run: run.complete_job(job.id, {}), budget, group)
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
            inputs = map_inputs(config.inputs, visible, self._expressions, element_id)
            result = handler_timing.timed_call(
                job.topic or element_id, self._callouts.invoke, handler, inputs, context
            )
            updates = copy_variables(
                map_outputs(config.outputs, inputs, result, self._expressions, element_id),
                f"handler '{job.topic}' at '{element_id}'",
            )
        except BpmnError as error:
            self._route_bpmn_error(job, instance, error, budget, group)
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
        if self._complete(
            job, instance, lambda run: run.complete_job(job.id, updates), budget, group
        ):
            logger.info(
                "job completed: %s at %s of instance %s (attempt %d)",
                job.topic,
                element_id,
                job.instance_id,
                job.attempt,
                extra=_job_fields(job),
            )

    def _route_bpmn_error(
        self,
        job: Job,
        instance: Instance,
        error: BpmnError,
        budget: ClaimBudget | None,
        group: GroupCommit | None,
    ) -> None:
        try:
            check_variables(
                error.variables,
                f"BPMN error '{error.code}' of handler '{job.topic}' at '{job.element_id}'",
            )
        except VariableTypeError as refused:
            self._fail(job, instance.definition_id, str(refused), retryable=False)
            return
        thrown = Note(
            HistoryKind.BPMN_ERROR_THROWN,
            job.element_id,
            {"code": error.code, "message": error.message, **error.variables},
        )

        def throw(run: ProcessRun) -> None:
            if not run.throw_error(job.id, error.code, error.variables):
                raise _Uncaught

        try:
            if self._complete(job, instance, throw, budget, group, extra=[thrown]):
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

    def _fire_start_timer(self, job: Job, budget: ClaimBudget | None) -> None:
        """A timer start event is due: start an instance and move the schedule on, in one
        commit."""
        definition = self._store.get_definition(job.topic or "")
        latest = self._store.latest_definition(definition.process_id)
        if latest is not None and latest.id != definition.id:
            self._drop(job)  # a newer version replaced this schedule while it was claimed
            return
        loaded = self._definitions.get(definition.id)
        instance = self._stepper.new_instance(definition, business_key=None)

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
            following = next_start_job(job, loaded.compiled, self._expressions)
            self._stepper.commit_new(
                instance,
                begin,
                extra=[
                    Note(HistoryKind.INSTANCE_STARTED, None, {}),
                    Note(HistoryKind.TIMER_FIRED, job.element_id, {}),
                ],
                schedules={job.instance_id: [following] if following else []},
                budget=budget,
            )
        except (ExecutionError, ExpressionError, VariableTypeError) as error:
            self._fail(job, definition.id, str(error), retryable=False)

    def _fire_timer(self, job: Job, budget: ClaimBudget | None, group: GroupCommit | None) -> None:
        instance = self._store.get_instance(job.instance_id)
        task_id = job.id.split("@", 1)[0]
        fired = Note(HistoryKind.TIMER_FIRED, job.element_id, {})
        if self._complete(
            job,
            instance,
            lambda run: run.fire_timer(task_id, job.element_id),
            budget,
            group,
            extra=[fired],
        ):
            logger.info(
                "timer fired: %s of instance %s",
                job.element_id,
                job.instance_id,
                extra=_job_fields(job),
            )

    def _reactivate(self, job: Job, budget: ClaimBudget | None, group: GroupCommit | None) -> None:
        """A retried incident of a wait state that failed to set up: set it up again (a timer
        evaluates its due time anew); nothing before it runs again."""
        instance = self._store.get_instance(job.instance_id)
        task_id = job.id.split("@", 1)[0]
        if self._complete(
            job, instance, lambda run: run.reactivate(task_id, job.element_id), budget, group
        ):
            logger.info(
                "wait state %s of instance %s set up again",
                job.element_id,
                job.instance_id,
                extra=_job_fields(job),
            )

    def _drop(self, job: Job) -> None:
        """A job whose task no longer waits, as read afresh from the store: deleted, since
        given back it would be claimed (and dropped) again at once, and run() never end."""
        logger.warning(
            "job %s no longer matches a waiting task of instance %s; dropping it",
            job.id,
            job.instance_id,
            extra=_job_fields(job),
        )
        self._store.drop_job(job.id, owner=self._worker_id)

    def _complete(
        self,
        job: Job,
        instance: Instance,
        action: Callable[[ProcessRun], None],
        budget: ClaimBudget | None,
        group: GroupCommit | None,
        extra: Sequence[Note] = (),
    ) -> bool:
        """Advance the instance past the job; False when it could not (failed or dropped).
        With a ``group``, the step waits for the group's commit, and is taken again alone
        (on a fresh read, the handler's result re-applied) if that commit refuses it."""
        try:
            self._stepper.advance(
                job.instance_id, action, extra=extra, job=job, budget=budget, group=group
            )
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
        if group is not None:
            group.retry_with(
                job.instance_id,
                lambda: self._guarded(
                    job, lambda: self._complete(job, instance, action, budget, None, extra)
                ),
            )
        return True

    def _fail(self, job: Job, definition_id: str, message: str, *, retryable: bool) -> None:
        """Record a failed run of ``job``: one fewer retry and a backoff, or an incident. A
        worker whose lease ran out (another took the job over) or whose job is gone (the
        instance moved on or was cancelled) records nothing: the job is no longer its own."""
        now = self._clock.now()
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
        due = now + self._retry_policy.backoff(job.attempt)
        try:
            self._store.fail_job(
                job.id,
                owner=self._worker_id,
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


def definition_of(store: Store, owner: str) -> str:
    """The definition id of an instance, or of a start schedule's owner."""
    if owner.startswith(OWNER_PREFIX):
        return owner.removeprefix(OWNER_PREFIX)
    return store.get_instance(owner).definition_id


class _Uncaught(Exception):
    """Internal: a BPMN error found no catch, so the step is abandoned."""


def _job_fields(job: Job) -> dict[str, str]:
    """The ids a log line about a job carries, for structured logging."""
    return {"instance_id": job.instance_id, "element_id": job.element_id, "job_id": job.id}
