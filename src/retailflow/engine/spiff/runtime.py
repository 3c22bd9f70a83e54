"""One running instance inside SpiffWorkflow, operated through retailflow's own vocabulary.

``ProcessRun`` is the only object the engine holds for a live instance. Every operation
(complete a job, throw a BPMN error, fire a timer, deliver a message or signal, complete a user
task) advances the workflow to its next wait states; ``wait_states`` then describes those in
retailflow's types, and ``drain_steps`` hands over what happened for the history.
SpiffWorkflow exceptions raised while advancing are turned into ``ExecutionError``.

The engine drives a run a step at a time and reads it after each, so what a step costs beyond
SpiffWorkflow's own work is kept small: task tables are scanned with plain loops over
``Task._state`` (never walked as trees), what a scan asks of a task's spec comes from its
``SpecFacts`` (``facts.py``, learnt once per spec), and the job, user task or catch the engine
names next is found among the tasks the last ``wait_states`` reported, not by parsing its id
and searching every (sub)workflow (``benchmarks/stepping.py`` measures it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from functools import partial
from itertools import chain
from typing import Any, TypeVar
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import StartEventSplit, _EndJoin
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    EventSubprocess,
    ServiceTask,
    StartEvent,
)
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from retailflow.bpmn.extensions import Dialect, ElementConfig, expression_language
from retailflow.bpmn.listeners import Listener
from retailflow.decisions import RuleHits
from retailflow.engine.spiff.callouts import CalloutRunner, Callouts
from retailflow.engine.spiff.compiler import CompiledProcess
from retailflow.engine.spiff.deep_stack import with_deep_stack
from retailflow.engine.spiff.facts import SpecFacts, facts_of, job_topic
from retailflow.engine.spiff.script_engine import RetailScriptEngine
from retailflow.engine.spiff.serializer import StateCodec
from retailflow.engine.spiff.specs import (
    DECISIONS_HIT,
    ClockTimerEventDefinition,
    KeyedMessageEventDefinition,
    is_visible,
)
from retailflow.engine.spiff.workflow import RetailWorkflow, any_in
from retailflow.engine.variables import map_inputs
from retailflow.model import BpmnError, ExecutionError, NotFoundError, RetailflowError

_OPEN = TaskState.STARTED | TaskState.WAITING | TaskState.READY
# Scans of every task on each step read ``Task._state``: the ``state`` property is a Python
# call per task, a visible cost when a step scans the whole table several times.
TRIGGER = "trigger:"
"""Prefix of the catch id of an event subprocess start, which has no task of its own."""
_FAILED = "rf_failed:"
"""Internal-data key prefix: the wait state of this element failed to set up, with why."""
_JOB = "rf_job"
"""Internal-data key: a job's evaluated ``(type, retries)`` when either is an expression."""
_T = TypeVar("_T")
_MAX_RETRIES = 2**31 - 1
"""The most runs a retries expression may ask for: a job's retries are a 32-bit count, as in
Camunda, and a larger number could not be stored."""
_FLOWS_RECORDED = "rf_flows_recorded"
"""Internal-data key: the children of a repeating timer whose flows are already recorded."""
_ASYNC_AFTER = "rf_async_after"
"""Internal-data key: what a task's handler wrote, kept while it waits in its asyncAfter."""
ASYNC_AFTER_JOB = "@after"
"""Suffix of the id of the job that continues after a task's ``camunda:asyncAfter``."""


@dataclass(slots=True)
class PendingJob:
    """A service task waiting for its handler. (Not frozen, as ``Step``: one is made on every
    step, and a frozen dataclass takes several times as long to make.)"""

    task_id: str
    element_id: str
    topic: str
    retries: int | None


@dataclass(frozen=True, slots=True)
class FailedActivation:
    """A wait state that could not be set up: a timer's due time, or a job's type or retries,
    did not evaluate. The element waits with an incident until a retry sets it up."""

    task_id: str
    element_id: str
    message: str


@dataclass(frozen=True, slots=True)
class PendingTimer:
    """A timer catch (intermediate, boundary or start) and when it is due."""

    task_id: str
    element_id: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class PendingCatch:
    """A message or signal catch; ``correlation_key`` is evaluated when it started waiting."""

    task_id: str
    element_id: str
    kind: str
    name: str
    correlation_key: str | None


@dataclass(frozen=True, slots=True)
class PendingUserTask:
    """A user task ready for a person, with its Modeler settings."""

    task_id: str
    element_id: str
    name: str | None
    config: ElementConfig
    variables: dict[str, Any]


@dataclass(slots=True)
class WaitStates:
    """Everything an instance waits for after a step."""

    jobs: list[PendingJob] = field(default_factory=list)
    timers: list[PendingTimer] = field(default_factory=list)
    catches: list[PendingCatch] = field(default_factory=list)
    user_tasks: list[PendingUserTask] = field(default_factory=list)
    failures: list[FailedActivation] = field(default_factory=list)


@dataclass(slots=True)
class Step:
    """An element that completed during a step, for the history: the BPMN process it belongs
    to (a called process's own id for its elements), the variables it wrote when they came
    from outside (a handler's result, a person's input), the sequence flows its token took
    out of it, and the rules of the decisions it evaluated. Read-only by convention, not
    frozen: several are made on every step, and a frozen dataclass's ``__init__`` (one
    ``object.__setattr__`` per field) takes five times as long."""

    process_id: str
    element_id: str
    element_type: str
    variables: dict[str, Any]
    flows: tuple[str, ...] = ()
    decisions: tuple[RuleHits, ...] = ()
    listener: tuple[str, str] | None = None
    """``(event, name)`` when the step is a listener invocation, not a completion."""


@dataclass(frozen=True, slots=True)
class Thrown:
    """A signal or message thrown by this instance for the engine to deliver elsewhere."""

    kind: str
    name: str
    variables: dict[str, Any]


def with_room_for(compiled: CompiledProcess, work: Callable[[], _T]) -> _T:
    """``work()`` (anything that drives SpiffWorkflow for an instance of ``compiled``), on a
    deep stack when the process is large enough for SpiffWorkflow's recursive walks along its
    paths to overflow the default one (a straight chain of 2,000 tasks does)."""
    return with_deep_stack(work) if compiled.deep else work()


class ProcessRun:
    """A live instance: a SpiffWorkflow workflow plus what the engine needs to drive it."""

    def __init__(
        self,
        workflow: BpmnWorkflow,
        compiled: CompiledProcess,
        script_engine: RetailScriptEngine,
        callouts: CalloutRunner | None = None,
    ) -> None:
        self._workflow = workflow
        self._compiled = compiled
        self._script_engine = script_engine
        self._callouts = Callouts(
            callouts, script_engine.expressions, self._record_listener, compiled.process_listeners
        )
        self._steps: list[Step] = []
        self._entered: list[Step] = []
        self._thrown: list[Thrown] = []
        self._failed: list[FailedActivation] = []
        self._reported: dict[str, Task] = {}
        """The tasks of the wait states reported last, by id: the job, user task or catch the
        engine names next is looked up here, not parsed and searched for."""

    # -- creating and persisting ------------------------------------------------------------
    @classmethod
    def start(
        cls,
        compiled: CompiledProcess,
        variables: Mapping[str, Any],
        script_engine: RetailScriptEngine,
        *,
        start_event: str | None = None,
        callouts: CalloutRunner | None = None,
    ) -> ProcessRun:
        """Create an instance and advance it to its first wait states.

        ``start_event`` is the message, signal or timer start event the instance starts at; the
        process's other start events are then left out. Without it the none start event is
        taken, as for ``Engine.start`` and a call activity. (SpiffWorkflow races all start
        events and a none start always wins, so a process with both a none start and a message
        start could otherwise never be started by its message.) ``callouts`` runs the
        handlers of delegates and listeners."""
        workflow = RetailWorkflow(
            compiled.spec, compiled.subprocess_specs, script_engine=script_engine
        )
        if start_event is not None:
            for task in workflow.get_tasks(state=TaskState.PREDICTED_MASK):
                if (
                    isinstance(task.task_spec, StartEvent)
                    and task.parent is not None
                    and isinstance(task.parent.task_spec, StartEventSplit)
                    and task.task_spec.bpmn_id != start_event
                ):
                    task.cancel()
        workflow.task_tree.data.update(variables)
        for child in workflow.task_tree.children:
            child.data.update(variables)
        run = cls(workflow, compiled, script_engine, callouts)
        run._advance()
        return run

    @classmethod
    def restore(
        cls,
        state: bytes,
        compiled: CompiledProcess,
        codec: StateCodec,
        script_engine: RetailScriptEngine,
        callouts: CalloutRunner | None = None,
    ) -> ProcessRun:
        """Re-create a live instance from stored state and its deployment's compiled spec."""
        try:
            workflow = codec.load(state, compiled)
        except (SpiffWorkflowException, KeyError, ValueError, TypeError) as error:
            raise ExecutionError(
                f"the stored state cannot be restored ({error}): it does not match the "
                "definition's files"
            ) from error
        workflow.script_engine = script_engine
        return cls(workflow, compiled, script_engine, callouts)

    def dump(self, codec: StateCodec) -> bytes:
        """The instance's state, without its spec."""
        return codec.dump(self._workflow)

    @property
    def compiled(self) -> CompiledProcess:
        """The deployed process this instance runs."""
        return self._compiled

    # -- reading -----------------------------------------------------------------------------
    @property
    def completed(self) -> bool:
        workflow = self._workflow
        if workflow.completed:
            return True
        # An interrupting event subprocess cancels the regular end, so no End task completes:
        # the process is done when nothing is left to do.
        return not any_in(self._all_tasks(), TaskState.NOT_FINISHED_MASK)

    @property
    def variables(self) -> dict[str, Any]:
        """The process-level variables after the last step."""
        workflow = self._workflow
        if workflow.completed:
            return dict(workflow.data) or dict(
                workflow.last_task.data if workflow.last_task else {}
            )
        task = workflow.last_task or workflow.task_tree
        return dict(task.data)

    def wait_states(self) -> WaitStates:
        """What the instance waits for now, in retailflow's types."""
        states = WaitStates()
        compiled = self._compiled
        reported = self._reported = {}
        for task in self._open_tasks():
            facts = compiled.spec_facts.get(task.task_spec) or facts_of(compiled, task)
            if not facts.visible:
                continue
            state = task._state
            if state == TaskState.STARTED and facts.service:
                if not _waits_as_job(task):
                    continue  # a delegate that runs in the step
                task_id = str(task.id)
                job = self._activated(
                    states, task, facts.element_id, partial(self._job, task, task_id, facts)
                )
                if job is not None:
                    states.jobs.append(job)
            elif state == TaskState.WAITING and facts.catching:
                task_id = str(task.id)
                self._add_catch(states, task)
            elif state == TaskState.READY and facts.manual:
                spec = task.task_spec
                task_id = str(task.id)
                states.user_tasks.append(
                    PendingUserTask(
                        task_id, facts.element_id, spec.bpmn_name, spec.extensions, dict(task.data)
                    )
                )
            else:
                continue
            reported[task_id] = task
            self._mark_entered(task)
        if self._workflow.spec.start.trigger_specs and not self.completed:
            self._add_triggers(states)
        return states

    def job_variables(self, task_id: str) -> tuple[ElementConfig, dict[str, Any], str]:
        """The configuration, visible variables and element id of a job's task."""
        # A waiting job's task is STARTED: the same task in a stale copy of the run (another
        # worker moved the instance on) is still a prediction, with none of its data yet.
        task = self._task(task_id, TaskState.STARTED)
        return task.task_spec.extensions, dict(task.data), task.task_spec.bpmn_id

    def drain_steps(self) -> list[Step]:
        """What completed since the last call, in order."""
        steps, self._steps = self._steps, []
        return steps

    def drain_entered(self) -> list[Step]:
        """Wait states entered since the last call: a job, a user task, a catch."""
        entered, self._entered = self._entered, []
        return entered

    def _mark_entered(self, task: Task) -> None:
        # Kept in the task's internal data, so a wait state is entered once however often
        # the instance is loaded and scanned.
        if not task.internal_data.get("rf_entered"):
            task.internal_data["rf_entered"] = True
            self._entered.append(self._step(task, {}))

    def drain_failures(self) -> list[FailedActivation]:
        """Wait states whose setup failed since the last call (each fails once: it keeps
        waiting, failed, until ``reactivate``)."""
        failed, self._failed = self._failed, []
        return failed

    def _activated(
        self, states: WaitStates, task: Task, element_id: str, activate: Callable[[], _T]
    ) -> _T | None:
        """``activate()`` sets up a wait state (evaluates a timer or a job type). A failure is
        remembered on the task, so the wait state is reported failed, not evaluated again,
        until ``reactivate``; the element is where the failure belongs, not the step before."""
        key = f"{_FAILED}{element_id}"
        message = task.internal_data.get(key)
        if message is None:
            try:
                return activate()
            except RetailflowError as error:
                message = task.internal_data[key] = str(error)
                self._failed.append(FailedActivation(str(task.id), element_id, message))
        states.failures.append(FailedActivation(str(task.id), element_id, message))
        return None

    def _job(self, task: Task, task_id: str, facts: SpecFacts) -> PendingJob:
        """The job of a service-like task (``task_id`` is the task's id as text); a job type
        or retries written as an expression is evaluated once, when the job is created (as
        Camunda 8 does), against the task's variables and its input mappings."""
        static = facts.static_job
        if static is not None:
            topic, retries = static
        else:
            config: ElementConfig = task.task_spec.extensions
            evaluated = task.internal_data.get(_JOB)
            if evaluated is None:
                evaluated = task.internal_data[_JOB] = self._evaluate_job(task, config)
            topic, retries = evaluated
            topic = job_topic(config, topic)
        if _ASYNC_AFTER in task.internal_data:
            return PendingJob(f"{task_id}{ASYNC_AFTER_JOB}", facts.element_id, topic, retries)
        return PendingJob(task_id, facts.element_id, topic, retries)

    def _evaluate_job(self, task: Task, config: ElementConfig) -> tuple[str, int | None]:
        expressions = self._script_engine.expressions
        element_id = task.task_spec.bpmn_id
        scope = map_inputs(config.inputs, task.data, expressions, element_id)
        topic = config.job_type or ""
        if expression_language(topic) is not None:
            value = expressions.evaluate(topic, scope, element_id=element_id)
            if not isinstance(value, str) or not value:
                raise ExecutionError(
                    f"the job type expression {topic!r} gave {value!r}, not "
                    "a job type (a non-empty string)",
                    element_id=element_id,
                )
            topic = value
        retries = config.retries
        if config.retries_expression:
            value = expressions.evaluate(config.retries_expression, scope, element_id=element_id)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float | Decimal)
                or value != int(value)
                or not 1 <= value <= _MAX_RETRIES
            ):
                raise ExecutionError(
                    f"the retries expression {config.retries_expression!r} "
                    f"gave {value!r}, not a whole number of runs from 1 to {_MAX_RETRIES}",
                    element_id=element_id,
                )
            retries = int(value)
        return topic, retries

    def drain_thrown(self) -> list[Thrown]:
        """Signals and messages thrown since the last call, for other instances."""
        thrown, self._thrown = self._thrown, []
        return thrown

    # -- advancing ---------------------------------------------------------------------------
    def complete_job(self, task_id: str, updates: Mapping[str, Any]) -> None:
        """A handler finished: write its outputs and move on (after ``camunda:asyncAfter``,
        in the job that continues from there)."""
        task = self._task(task_id, TaskState.STARTED)
        self._finish_service_task(task, dict(updates), continued=task_id.endswith(ASYNC_AFTER_JOB))
        self._advance()

    def throw_error(self, task_id: str, code: str, variables: Mapping[str, Any]) -> bool:
        """A handler raised ``BpmnError``: route it to the matching catch. Returns False (and
        changes nothing) when nothing catches that code."""
        if not self._throw(self._task(task_id, TaskState.STARTED), code, variables):
            return False
        self._advance()
        return True

    def fire_timer(self, task_id: str, element_id: str) -> None:
        """The timer drawn as ``element_id`` is due for the task waiting on it."""
        task = self._task(task_id, TaskState.WAITING)
        definition = task.task_spec.event_definition
        timers = (
            definition.event_definitions
            if isinstance(definition, MultipleEventDefinition)
            else [definition]
        )
        timer = next(
            (
                t
                for t in timers
                if isinstance(t, ClockTimerEventDefinition) and t.element_id == element_id
            ),
            None,
        )
        if timer is None:
            raise NotFoundError(f"no timer '{element_id}' waits in this instance")

        def fire() -> None:
            timer.fire(task)
            task.task_spec._update(task)

        self._guard(task, fire)
        if task.state == TaskState.WAITING:
            self._record_repetition(task)
        self._interrupt_for_event_subprocesses()
        self._advance()

    def fire_start_timer(self, element_id: str) -> None:
        """Fire the timer start event ``element_id`` of a just-started instance, once."""
        for task in self._open_tasks():
            definition = getattr(task.task_spec, "event_definition", None)
            if (
                isinstance(definition, ClockTimerEventDefinition)
                and definition.element_id == element_id
            ):
                self._guard(
                    task, lambda t=task, d=definition: (d.fire_once(t), t.task_spec._update(t))
                )
                self._advance()
                return
        raise NotFoundError(f"no timer start event '{element_id}' waits in this instance")

    def deliver_message(self, task_id: str, name: str, variables: Mapping[str, Any]) -> None:
        """A correlated message reached the task (or event subprocess) waiting for it."""
        self._catch(task_id, BpmnEvent(KeyedMessageEventDefinition(name), payload=dict(variables)))

    def deliver_signal(self, task_id: str, name: str, variables: Mapping[str, Any]) -> None:
        """A broadcast signal reached a task (or event subprocess) waiting for it."""
        self._catch(task_id, BpmnEvent(SignalEventDefinition(name), payload=dict(variables)))

    def complete_user_task(self, task_id: str, variables: Mapping[str, Any]) -> None:
        """A person finished a user task."""
        task = self._task(task_id, TaskState.READY)
        task.data.update(variables)

        def complete() -> None:
            # Camunda fires complete listeners before the task ends: they see the input.
            self._callouts.fire(task, "task", "complete")
            task.run()

        self._guard(task, complete)
        self._record(task, variables)
        self._advance()

    def reactivate(self, task_id: str, element_id: str) -> None:
        """Set up again the wait state ``element_id`` of the task whose activation failed (the
        retry of its incident); ``ExecutionError`` if it fails again."""
        task = self._task(task_id)
        if task.internal_data.pop(f"{_FAILED}{element_id}", None) is None:
            raise NotFoundError(f"'{element_id}' waits with no failed activation")
        self.wait_states()
        for failure in self.drain_failures():
            raise ExecutionError(failure.message)

    def set_variables(self, variables: Mapping[str, Any]) -> None:
        """An operator changed process variables: the open tasks carry the new values onward,
        and the task ``variables`` reads shows them now."""
        for task in self._open_tasks():
            task.data.update(variables)
        (self._workflow.last_task or self._workflow.task_tree).data.update(variables)

    def cancel(self) -> None:
        """End the instance where it stands."""
        self._workflow.cancel()

    # -- internals ---------------------------------------------------------------------------
    def _catch(self, catch_id: str, event: BpmnEvent) -> None:
        # A subscription's id is "<task id>@<element id>"; the task is what catches.
        task_id = catch_id.split("@", 1)[0]
        if task_id.startswith(TRIGGER):
            # An event subprocess start: the workflow itself starts the subprocess.
            try:
                with self._callouts.active():
                    self._workflow.catch(event)
            except SpiffWorkflowException as error:
                raise _execution_error(error, catch_id.rsplit("@", 1)[-1]) from error
            self._interrupt_for_event_subprocesses()
            self._advance()
            return
        task = self._task(task_id, TaskState.WAITING)

        def deliver() -> None:
            task.task_spec.catch(task, event)
            task.task_spec._update(task)

        self._guard(task, deliver)
        self._advance()

    def _advance(self) -> None:
        with self._callouts.active():
            while True:
                try:
                    self._run_engine_steps()
                    # An escalation or error thrown inside the flow may have started an
                    # interrupting event subprocess, which SpiffWorkflow runs alongside the
                    # rest; and a scope whose last regular token ended completes, its waiting
                    # event subprocesses cancelled.
                    while True:
                        interrupted = (
                            self._compiled.event_subprocesses
                            and self._interrupt_for_event_subprocesses()
                        )
                        if not (self._end_idle_scopes() or interrupted):
                            break
                        self._run_engine_steps()
                except SpiffWorkflowException as error:
                    raise _execution_error(error) from error
                if not self._compiled.calls_out or not self._run_delegates():
                    break
            if self._compiled.calls_out:
                self._start_waiting()
        outbox = self._script_engine.outbox
        while outbox:
            kind, name, variables = outbox.pop(0)
            self._thrown.append(Thrown(kind, name, variables))
        for event in self._workflow.get_events():
            definition = event.event_definition
            if isinstance(definition, SignalEventDefinition):
                self._thrown.append(Thrown("signal", definition.name, dict(event.payload or {})))
            elif isinstance(definition, ErrorEventDefinition):
                self._uncaught_error(definition)

    def _uncaught_error(self, definition: ErrorEventDefinition) -> None:
        """An error end event nothing catches. Camunda 8 raises an incident there and the
        instance stays where it was; Camunda 7 ends the path as a none end event would
        (SpiffWorkflow's reading too, kept for the other dialects)."""
        thrower = next(
            (
                task.task_spec
                for task in self._all_tasks()
                if getattr(task.task_spec, "event_definition", None) is definition
            ),
            None,
        )
        config = getattr(thrower, "extensions", None)
        if isinstance(config, ElementConfig) and config.dialect is Dialect.CAMUNDA8:
            raise ExecutionError(
                f"the BPMN error '{definition.code}' thrown by the error end "
                "event is not caught by any error boundary event or error "
                "event subprocess; draw one for it",
                element_id=getattr(thrower, "bpmn_id", None),
            )

    def _start_waiting(self) -> None:
        """Fire the start listeners of elements that began to wait (user tasks, catches,
        jobs). A boundary event starts when it is triggered, not while it watches its task."""
        for task in list(self._open_tasks()):
            spec = task.task_spec
            if (
                is_visible(spec)
                and not isinstance(spec, BoundaryEvent)
                and (task.state != TaskState.READY or spec.manual)
            ):
                self._guard(task, lambda t=task: self._callouts.start(t))

    def _throw(self, task: Task, code: str, variables: Mapping[str, Any]) -> bool:
        event = BpmnEvent(
            ErrorEventDefinition(code, code), payload=dict(variables), target=task.workflow
        )
        self._guard(task, lambda: self._workflow.catch(event))
        if event in self._workflow.bpmn_events:
            # SpiffWorkflow parks an event nobody caught for the caller: nothing changed.
            self._workflow.bpmn_events.remove(event)
            return False
        self._interrupt_for_event_subprocesses()
        return True

    def _run_delegates(self) -> bool:
        """Run the handlers of the Camunda 7 delegates the step reached, as Camunda 7 does:
        synchronously, in the step (``asyncBefore`` ones wait as jobs instead). A handler's
        ``BpmnError`` takes the modelled error path; True when any ran."""
        ran = False
        for task in list(self._open_tasks()):
            config = getattr(task.task_spec, "extensions", None)
            if (
                task.state != TaskState.STARTED
                or not isinstance(task.task_spec, ServiceTask)
                or not _runs_in_step(task, config)
            ):
                continue
            ran = True
            try:
                updates = self._callouts.delegate(task)
            except BpmnError as error:
                if not self._throw(task, error.code, error.variables):
                    raise ExecutionError(
                        f"BPMN error '{error.code}' of the delegate is not caught by any error "
                        "event here; draw an error boundary event for it",
                        element_id=task.task_spec.bpmn_id,
                    ) from error
                continue
            self._finish_service_task(task, updates, continued=False)
        return ran

    def _finish_service_task(self, task: Task, updates: dict[str, Any], *, continued: bool) -> None:
        """Complete a service task with what its handler wrote, or, with
        ``camunda:asyncAfter``, keep it waiting for the job that continues from there."""
        config: ElementConfig = task.task_spec.extensions
        if continued:
            updates = {**task.internal_data.pop(_ASYNC_AFTER, {}), **updates}
        elif config.async_after:
            task.internal_data[_ASYNC_AFTER] = updates
            return
        task.data.update(updates)
        self._guard(task, task.complete)
        self._record(task, updates)

    def _take(self, task: Task, taken: list[tuple[str, Task]]) -> None:
        """Fire the take listeners of the flows a completed task took; what they write
        travels with the token, to the element the flow leads to."""
        scope = self._compiled.scope(task.workflow.spec.name)
        for flow, target in taken:
            listeners = self._compiled.flow_listeners.get((scope, flow), ())
            for listener in listeners:
                self._guard(
                    target, lambda t=target, f=flow, each=listener: self._callouts.take(t, f, each)
                )

    def _record_listener(
        self, task: Task, listener: Listener, variables: dict[str, Any], flow: str | None = None
    ) -> None:
        called = (listener.event, listener.name)
        if flow is not None:
            scope = self._compiled.scope(task.workflow.spec.name)
            self._steps.append(Step(scope, flow, "sequenceFlow", variables, listener=called))
            return
        if is_visible(task.task_spec):
            self._steps.append(replace(self._step(task, variables), listener=called))
            return
        # A process's own listener: its start task or the join that ends it.
        process_id = task.workflow.spec.name
        self._steps.append(
            Step(
                self._compiled.scope(process_id), process_id, "process", variables, listener=called
            )
        )

    def _record(self, task: Task, variables: Mapping[str, Any] | None = None) -> None:
        # SpiffWorkflow reports every task it ran, also those it left STARTED (jobs).
        if task._state != TaskState.COMPLETED:
            return
        compiled = self._compiled
        facts = facts_of(compiled, task)
        if not facts.visible:
            return
        taken = self._taken(task, facts)
        self._steps.append(
            Step(
                facts.scope,
                facts.element_id,
                facts.element_type,
                dict(variables) if variables else {},
                tuple([flow for flow, _ in taken]),
                task.internal_data.pop(DECISIONS_HIT, ()),
            )
        )
        if compiled.flow_listeners:
            self._take(task, taken)

    def _record_repetition(self, task: Task) -> None:
        """A cycle timer fired and waits for its next time: this firing passed the event once,
        and its token went on along the outgoing flows (to children added just now)."""
        self._steps.append(self._step(task, {}, self._flows_taken(task)))
        task.internal_data[_FLOWS_RECORDED] = [
            str(child.id) for child in task.children if not child.state & TaskState.PREDICTED_MASK
        ]

    def _step(self, task: Task, variables: dict[str, Any], flows: tuple[str, ...] = ()) -> Step:
        facts = facts_of(self._compiled, task)
        return Step(facts.scope, facts.element_id, facts.element_type, variables, flows)

    def _flows_taken(self, task: Task) -> tuple[str, ...]:
        """The sequence flows out of a task that just completed."""
        return tuple([flow for flow, _ in self._taken(task, facts_of(self._compiled, task))])

    def _taken(self, task: Task, facts: SpecFacts) -> list[tuple[str, Task]]:
        """The sequence flows out of a task that just completed, each with the task it led
        to: one to each element its children lead to. SpiffWorkflow may put internal tasks in
        between (a boundary event split, say), and keeps branches that may still be taken as
        predicted children. Children of earlier repetitions of a cycle timer were recorded
        when it fired."""
        compiled = self._compiled
        flows = compiled.sequence_flows
        scope, source = facts.scope, facts.element_id
        taken = []
        following = task.children
        recorded = task.internal_data.get(_FLOWS_RECORDED)
        if recorded:
            following = [child for child in following if str(child.id) not in recorded]
        while following:
            child = following.pop(0)
            if child._state & TaskState.PREDICTED_MASK:
                continue
            child_facts = facts_of(compiled, child)
            if child_facts.visible:
                flow = flows.get((scope, source, child_facts.element_id))
                if flow is not None:
                    taken.append((flow, child))
            else:
                following.extend(child.children)
        return taken

    def _interrupt_for_event_subprocesses(self) -> bool:
        """An interrupting event subprocess ends everything else in its scope when it starts
        (SpiffWorkflow runs it alongside instead). Returns whether one did."""
        interrupted = False
        for task in list(self._open_tasks()):
            spec = task.task_spec
            if not isinstance(spec, EventSubprocess) or task.internal_data.get("rf_interrupted"):
                continue
            subprocess = self._workflow.subprocesses.get(task.id)
            starts = self._workflow.subprocess_specs[spec.spec].bpmn_start_events
            started = subprocess is not None and any(
                t.task_spec in starts and t.state & (TaskState.READY | TaskState.COMPLETED)
                for t in subprocess.tasks.values()
            )
            if not started:  # e.g. a timer event subprocess still waiting for its timer
                continue
            task.internal_data["rf_interrupted"] = True
            if not any(getattr(start, "interrupting", True) for start in starts):
                continue
            interrupted = True
            keep = {task.id, *(ancestor.id for ancestor in _ancestors(task))}
            for other in list(task.workflow.get_tasks_iterator(state=TaskState.NOT_FINISHED_MASK)):
                # Tasks of nested subprocesses go with their parent task's cancellation.
                if (
                    other.workflow is task.workflow
                    and other.id not in keep
                    and other.state & TaskState.NOT_FINISHED_MASK
                    and not _descends_from(other, task)
                ):
                    other.cancel()
        return interrupted

    def _end_idle_scopes(self) -> bool:
        """A scope (the process, an embedded or called subprocess) whose last token outside
        its event subprocesses has ended completes, as in Camunda: the event subprocesses that
        still wait for their trigger (a timer start, say) are cancelled with their timers and
        subscriptions. SpiffWorkflow would keep the scope open until the trigger came and ran
        the subprocess after the process had ended. Returns whether any scope was ended."""
        ended = False
        for workflow in (self._workflow, *self._workflow.subprocesses.values()):
            if workflow.completed:
                continue
            idle: list[Task] = []
            for task in workflow.tasks.values():
                if not task._state & _OPEN or isinstance(task.task_spec, _EndJoin):
                    continue
                if not (isinstance(task.task_spec, EventSubprocess) and self._awaits_trigger(task)):
                    break  # a token is still on its way
                idle.append(task)
            else:
                for task in idle:
                    task.cancel()
                for join in workflow.tasks.values():
                    if isinstance(join.task_spec, _EndJoin) and join.state == TaskState.WAITING:
                        join.task_spec._update(join)
                ended = ended or bool(idle)
        return ended

    def _awaits_trigger(self, task: Task) -> bool:
        """Whether an event subprocess still waits for its start event (an instance of it
        that is running is a token of its scope like any other)."""
        subprocess = self._workflow.subprocesses.get(task.id)
        if subprocess is None:
            return True
        if subprocess.completed:
            return False  # it ran to its end: its task completes on the next step
        starts = self._workflow.subprocess_specs[task.task_spec.spec].bpmn_start_events
        return all(
            (t.task_spec in starts and t.state == TaskState.WAITING)
            or isinstance(t.task_spec, _EndJoin)
            for t in subprocess.tasks.values()
            if t.state & _OPEN
        )

    def _add_catch(self, states: WaitStates, task: Task) -> None:
        definition = task.task_spec.event_definition
        # An event-based gateway waits on all the events drawn after it, as one task.
        definitions = (
            definition.event_definitions
            if isinstance(definition, MultipleEventDefinition)
            else [definition]
        )
        for item in definitions:
            self._add_definition(states, task, item)

    def _add_definition(self, states: WaitStates, task: Task, definition: Any) -> None:
        element_id = getattr(definition, "element_id", None) or task.task_spec.bpmn_id
        if isinstance(definition, ClockTimerEventDefinition):
            due = self._activated(states, task, element_id, partial(definition.due_at, task))
            if due is not None:
                states.timers.append(PendingTimer(str(task.id), element_id, due))
        elif isinstance(definition, KeyedMessageEventDefinition):
            key_name = f"rf_key:{element_id}"
            if key_name not in task.internal_data:
                task.internal_data[key_name] = self._correlation_key(
                    definition, task.data, element_id
                )
            states.catches.append(
                PendingCatch(
                    str(task.id),
                    element_id,
                    "message",
                    definition.name,
                    task.internal_data[key_name],
                )
            )
        elif isinstance(definition, SignalEventDefinition):
            states.catches.append(
                PendingCatch(str(task.id), element_id, "signal", definition.name, None)
            )

    def _add_triggers(self, states: WaitStates) -> None:
        """Message and signal starts of event subprocesses: they wait as long as the process
        runs, though SpiffWorkflow keeps no task for them until one fires."""
        spec = self._workflow.spec
        for name in spec.start.trigger_specs:
            for start in self._workflow.subprocess_specs[name].bpmn_start_events:
                # Unique per instance: the workflow's root task id is.
                trigger = f"{TRIGGER}{self._workflow.task_tree.id}"
                definition = start.event_definition
                if isinstance(definition, KeyedMessageEventDefinition):
                    key = self._correlation_key(definition, self.variables, start.bpmn_id)
                    # The key is read from the variables at every step; in the id too, a key
                    # that changed makes a new subscription, so the stored one never goes stale.
                    keyed = trigger if key is None else f"{trigger}:{key}"
                    states.catches.append(
                        PendingCatch(keyed, start.bpmn_id, "message", definition.name, key)
                    )
                elif isinstance(definition, SignalEventDefinition):
                    states.catches.append(
                        PendingCatch(trigger, start.bpmn_id, "signal", definition.name, None)
                    )

    def _correlation_key(
        self, definition: KeyedMessageEventDefinition, variables: Mapping[str, Any], element_id: str
    ) -> str | None:
        if not definition.correlation_key:
            return None
        value = self._script_engine.expressions.evaluate(
            definition.correlation_key, variables, element_id=element_id
        )
        return None if value is None else str(value)

    def _run_engine_steps(self) -> None:
        """SpiffWorkflow's ``do_engine_steps`` with flat scans of each workflow's task table
        instead of walks of the task tree: the same order (deepest subprocess first, then
        the process), a fraction of the cost on the job hot path."""
        workflow = self._workflow
        while True:
            active = (
                sorted(
                    (sp for sp in workflow.subprocesses.values() if not sp.completed),
                    key=lambda sp: sp.depth,
                    reverse=True,
                )
                if workflow.subprocesses
                else []
            )
            for subprocess in active:
                while self._run_ready(subprocess):
                    pass
                if subprocess.parent_task_id is not None:
                    parent = workflow.get_task_from_id(subprocess.parent_task_id)
                    parent.task_spec._update(parent)
            if self._run_ready(workflow):
                continue
            if not workflow.subprocesses:
                break
            started = sum(1 for sp in workflow.subprocesses.values() if not sp.completed)
            if started <= len(active):
                break
        workflow.refresh_timers()

    def _run_ready(self, workflow: Any) -> bool:
        ready = [
            task
            for task in workflow.tasks.values()
            if task._state == TaskState.READY and not task.task_spec.manual
        ]
        compiled = self._compiled
        # Without listeners anywhere, there is nothing to fire before a task runs.
        listened = compiled.calls_out or compiled.process_listeners
        for task in ready:
            if task._state == TaskState.READY:
                if listened:
                    self._callouts.before_run(task)
                task.run()
                self._record(task)
                if facts_of(compiled, task).code_event:
                    # An interrupting event subprocess it started ends the scope now, before
                    # the throw's outgoing flow runs on (Camunda terminates the throw too).
                    self._interrupt_for_event_subprocesses()
        return bool(ready)

    def _all_tasks(self) -> Iterable[Task]:
        """Every task of the process and of its sub-processes."""
        workflow = self._workflow
        if not workflow.subprocesses:
            return workflow.tasks.values()  # type: ignore[no-any-return]
        return chain(
            workflow.tasks.values(), *(sp.tasks.values() for sp in workflow.subprocesses.values())
        )

    def _open_tasks(self) -> list[Task]:
        return [task for task in self._all_tasks() if task._state & _OPEN]

    def _task(self, task_id: str, state: TaskState | None = None) -> Task:
        text = task_id.removesuffix(ASYNC_AFTER_JOB)
        task = self._reported.get(text)
        if task is None or not self._holds(task):
            try:
                task = self._workflow.get_task_from_id(UUID(text))
            except (SpiffWorkflowException, ValueError):
                task = None
        if task is None or (state is not None and task._state != state):
            raise NotFoundError(f"no waiting task '{task_id}' in this instance")
        return task

    def _holds(self, task: Task) -> bool:
        """Whether ``task`` is (still) in the process or one of its sub-processes, where
        ``BpmnWorkflow.get_task_from_id`` would find it."""
        workflow = task.workflow
        if workflow is not self._workflow and (
            self._workflow.subprocesses.get(workflow.parent_task_id) is not workflow
        ):
            return False
        return workflow.tasks.get(task.id) is task

    def _guard(self, task: Task, action: Any) -> None:
        try:
            with self._callouts.active():
                action()
        except SpiffWorkflowException as error:
            raise _execution_error(error, task.task_spec.bpmn_id) from error


def _runs_in_step(task: Task, config: Any) -> bool:
    """A Camunda 7 delegate that runs now: no job type, not behind ``asyncBefore``, and not
    already run and waiting in its ``asyncAfter``."""
    return (
        isinstance(config, ElementConfig)
        and config.java_delegate is not None
        and not config.job_type
        and not config.async_before
        and _ASYNC_AFTER not in task.internal_data
    )


def _waits_as_job(task: Task) -> bool:
    """Whether a STARTED service task waits for a job: its handler (a job type, or a delegate
    behind ``asyncBefore``), or the continuation after its ``asyncAfter``; a delegate without
    either runs in the step."""
    config: ElementConfig = task.task_spec.extensions
    return bool(config.job_type or config.async_before or _ASYNC_AFTER in task.internal_data)


def _ancestors(task: Task) -> Iterator[Task]:
    parent = task.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _descends_from(task: Task, ancestor: Task) -> bool:
    return any(parent is ancestor for parent in _ancestors(task))


def _execution_error(
    error: SpiffWorkflowException, element_id: str | None = None
) -> ExecutionError:
    task = getattr(error, "task", None)
    if element_id is None and task is not None:
        element_id = getattr(task.task_spec, "bpmn_id", None)
    cause = getattr(error, "error", None) or error
    return ExecutionError(str(cause), element_id=element_id)
