"""retailflow's own SpiffWorkflow task specs and event definitions.

SpiffWorkflow leaves a service task STARTED when its spec does nothing: that is exactly a job's
wait state, so service tasks keep SpiffWorkflow's class and only gain their ``ElementConfig``.
What needs real changes lives here: timers that read the engine's clock instead of the wall
clock, messages correlated by a key expression, decisions evaluated by retailflow's DMN
evaluator, and script tasks that run in retailflow's sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from copy import deepcopy
from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.defaults import (
    CallActivity,
    EndEvent,
    IntermediateThrowEvent,
    NoneTask,
    ParallelMultiInstanceTask,
    ScriptTask,
    SequentialMultiInstanceTask,
)
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    EscalationEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import (
    BoundaryEvent as BoundaryEventSpec,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent as StartEventSpec
from SpiffWorkflow.bpmn.util import BpmnEvent, PendingBpmnEvent
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.util.task import TaskState

from retailflow.engine.variables import map_inputs, map_outputs
from retailflow.model import RetailflowError
from retailflow.model.variables import check_variables

if TYPE_CHECKING:
    from SpiffWorkflow.task import Task

    from retailflow.bpmn.extensions import ElementConfig
    from retailflow.engine.spiff.script_engine import RetailScriptEngine


def script_engine_of(task: Task) -> RetailScriptEngine:
    """The engine-wide script engine, which carries the clock and the evaluators."""
    engine: RetailScriptEngine = task.workflow.top_workflow.script_engine
    return engine


def write_caught(my_task: Task, element_id: str | None, payload: Mapping[str, Any]) -> None:
    """What a message or timer catch writes when it completes: the message's variables as
    they came, or, when the catching element has output mappings, only their targets,
    evaluated against the variables, the element's input mappings and the payload (Camunda's
    rule for message, timer and message start events). An event-based gateway catches for
    the event drawn after it, whose mappings apply."""
    spec = my_task.workflow.spec.task_specs.get(element_id) if element_id else None
    config: ElementConfig | None = getattr(spec, "extensions", None)
    if config is None or not config.outputs:
        my_task.data.update(payload)
        return
    engine = script_engine_of(my_task)
    visible = map_inputs(config.inputs, my_task.data, engine.expressions, element_id)
    my_task.data.update(
        map_outputs(config.outputs, visible, payload, engine.expressions, element_id)
    )


class ClockTimerEventDefinition(TimerEventDefinition):
    """A timer (date, duration or cycle) whose due time comes from the engine's clock.

    The due time is computed once, when the timer starts waiting, and kept in the task's
    internal data so it survives persistence; the engine turns it into a timer job and calls
    ``fire`` when the job is due. ``quartz_cron`` reads a cron cycle as Camunda 7 does.
    """

    def __init__(
        self,
        name: str,
        expression: str,
        kind: str,
        element_id: str,
        quartz_cron: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, expression, **kwargs)
        self.kind = kind
        self.element_id = element_id
        self.quartz_cron = quartz_cron

    # Internal data is keyed by the timer's element: an event-based gateway keeps several
    # timers on one task.
    @property
    def _due_key(self) -> str:
        return f"rf_due:{self.element_id}"

    @property
    def _repetitions_key(self) -> str:
        return f"rf_repetitions:{self.element_id}"

    @property
    def _fired_key(self) -> str:
        return f"rf_fired:{self.element_id}"

    def due_at(self, my_task: Task) -> datetime:
        """The next due time, computed on first use against the engine's clock."""
        due = my_task.internal_data.get(self._due_key)
        if due is None:
            engine = script_engine_of(my_task)
            schedule = engine.timer_schedule(
                my_task, self.kind, self.expression, quartz_cron=self.quartz_cron
            )
            due = schedule.first_due.isoformat()
            my_task.internal_data[self._due_key] = due
            if self.kind == "timeCycle":
                my_task.internal_data[self._repetitions_key] = schedule.repetitions
        return datetime.fromisoformat(due)

    def has_fired(self, my_task: Task) -> bool:
        # The due time is fixed as the timer starts waiting. A timer that cannot be evaluated
        # just waits: the runtime reports it as the timer's own incident (SpiffWorkflow would
        # abandon the step half-done, blaming whatever completed before).
        with suppress(RetailflowError):
            self.due_at(my_task)
        return bool(my_task.internal_data.get(self._fired_key, False))

    def fire(self, my_task: Task) -> None:
        """Called by the engine when the timer job is due. Only a boundary event and an event
        subprocess start repeat a cycle; an intermediate catch (or a timer after an
        event-based gateway) is one event, which fires once, at the cycle's first time."""
        if self.kind != "timeCycle" or not isinstance(
            my_task.task_spec, BoundaryEventSpec | StartEventSpec
        ):
            my_task.internal_data[self._fired_key] = True
            return
        engine = script_engine_of(my_task)
        schedule = engine.timer_schedule(
            my_task, self.kind, self.expression, quartz_cron=self.quartz_cron
        )
        left = my_task.internal_data.get(self._repetitions_key)
        left = None if left is None else left - 1
        next_due = schedule.next_after(self.due_at(my_task))
        if left == 0 or next_due is None:
            # The last repetition completes the event itself, which runs its outputs once more.
            my_task.internal_data.pop(self._due_key, None)
            my_task.internal_data[self._fired_key] = True
            return
        my_task.internal_data[self._due_key] = next_due.isoformat()
        my_task.internal_data[self._repetitions_key] = left
        for output in my_task.task_spec.outputs:
            child = my_task._add_child(output, TaskState.FUTURE)
            child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
            child.task_spec._update(child)

    def fire_once(self, my_task: Task) -> None:
        """Fire and finish, whatever the kind: an instance started by its timer start event
        runs once; the engine schedules the next start itself."""
        my_task.internal_data[self._fired_key] = True

    def update_task_data(self, my_task: Task) -> None:
        write_caught(my_task, self.element_id, {})

    def reset(self, my_task: Task) -> None:
        my_task.internal_data.pop(self._due_key, None)
        my_task.internal_data.pop(self._repetitions_key, None)
        my_task.internal_data.pop(self._fired_key, None)
        super().reset(my_task)

    def details(self, my_task: Task) -> PendingBpmnEvent:
        return PendingBpmnEvent(
            self.name, self.__class__.__name__, my_task.internal_data.get(self._due_key)
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClockTimerEventDefinition) and self.element_id == other.element_id

    __hash__ = None  # type: ignore[assignment]


class KeyedMessageEventDefinition(MessageEventDefinition):
    """A message caught by name, correlated by a key the engine computes and matches.

    SpiffWorkflow's own correlation properties are not used: the engine keeps subscriptions in
    the store and delivers a message to exactly one waiting task.
    """

    def __init__(
        self,
        name: str,
        correlation_key: str | None = None,
        element_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, [], **kwargs)
        self.correlation_key = correlation_key
        self.element_id = element_id

    def catches(self, my_task: Task, event: Any) -> bool:
        return bool(self == event.event_definition)

    def catch(self, my_task: Task, event: Any = None) -> None:
        self.update_internal_data(my_task, event)
        my_task._set_internal_data(event_fired=True)

    def update_task_data(self, my_task: Task) -> None:
        write_caught(my_task, self.element_id, my_task.internal_data.get(self.name) or {})

    def throw(self, my_task: Task) -> None:
        # A message thrown to another instance: the engine correlates it after the step.
        script_engine_of(my_task).outbox.append(("message", self.name, dict(my_task.data)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MessageEventDefinition) and self.name == other.name

    __hash__ = None  # type: ignore[assignment]


class ComputedEscalationEventDefinition(EscalationEventDefinition):
    """An escalation thrown with a code computed when the event is reached (Camunda 8:
    ``escalationCode="=expression"``); catch events match the computed code."""

    def __init__(self, name: str, code_expression: str, **kwargs: Any) -> None:
        super().__init__(name, None, **kwargs)
        self.code_expression = code_expression

    def throw(self, my_task: Task) -> None:
        engine = script_engine_of(my_task)
        code = engine.expressions.evaluate(
            self.code_expression, my_task.data, element_id=my_task.task_spec.bpmn_id
        )
        thrown = EscalationEventDefinition(self.name, None if code is None else str(code))
        event = BpmnEvent(thrown, payload=deepcopy(my_task.data), target=my_task.workflow)
        my_task.workflow.top_workflow.catch(event)


DECISIONS_HIT = "rf_decisions"
"""Internal-data key under which a decision task leaves the rules it hit for the runtime,
which takes them into the step's history as soon as the task has run."""


class DecisionTask(BpmnSpecMixin):
    """A business rule task evaluated by retailflow's DMN evaluator, in the same step.

    Its variable mappings work as a service job's do: the input mappings add variables the
    decision reads (for this task only), and with output mappings only their targets are
    written, each evaluated against the variables plus the result variable.
    """

    def __init__(
        self,
        wf_spec: Any,
        bpmn_id: str,
        decision_id: str,
        result_variable: str | None,
        map_result: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.decision_id = decision_id
        self.result_variable = result_variable
        self.map_result = map_result

    def _run_hook(self, my_task: Task) -> bool:
        engine = script_engine_of(my_task)
        config: ElementConfig = self.extensions
        visible = map_inputs(config.inputs, my_task.data, engine.expressions, self.bpmn_id)
        value, hits = engine.evaluate_decision(my_task, self.decision_id, self.map_result, visible)
        my_task.internal_data[DECISIONS_HIT] = hits
        if self.result_variable:
            result = {self.result_variable: value}
        else:
            result = dict(value) if isinstance(value, dict) else {}
        my_task.data.update(
            map_outputs(config.outputs, visible, result, engine.expressions, self.bpmn_id)
        )
        return True


class MappedCallActivity(CallActivity):
    """A call activity whose variables travel as Camunda says, in both dialects.

    In: every variable of the caller when ``propagate_all_parent_variables`` (Camunda 8's
    default, Camunda 7's ``camunda:in variables="all"``), overlaid with the input mappings
    (``zeebe:ioMapping`` inputs, ``camunda:in``); otherwise the mapped variables only.
    Out: every variable the called process ends with when ``returns_all_child_variables``,
    plus the output mappings (``zeebe:ioMapping`` outputs, ``camunda:out``) evaluated against
    the caller's variables overlaid with the called process's; otherwise nothing comes back.
    A called process that declares a BPMN ``ioSpecification`` keeps SpiffWorkflow's reading.
    """

    def copy_data(self, my_task: Task, subworkflow: Any) -> None:
        if _declares(subworkflow, "data_inputs"):
            super().copy_data(my_task, subworkflow)
            return
        config: ElementConfig = self.extensions
        engine = script_engine_of(my_task)
        visible = map_inputs(config.inputs, my_task.data, engine.expressions, self.bpmn_id)
        if not config.propagate_all_parent_variables:
            mapped = {mapping.target.split(".")[0] for mapping in config.inputs}
            visible = {name: value for name, value in visible.items() if name in mapped}
        start = subworkflow.get_next_task(
            subworkflow.task_tree, skip_subprocesses=True, spec_name="Start"
        )
        start.set_data(**deepcopy(visible))

    def update_data(self, my_task: Task, subworkflow: Any) -> None:
        if _declares(subworkflow, "data_outputs"):
            super().update_data(my_task, subworkflow)
            return
        config: ElementConfig = self.extensions
        engine = script_engine_of(my_task)
        ended = deepcopy(subworkflow.last_task.data)
        updates = dict(ended) if config.returns_all_child_variables else {}
        if config.outputs:
            # Output mappings see the call activity's own scope: its input mappings too.
            visible = map_inputs(config.inputs, my_task.data, engine.expressions, self.bpmn_id)
            updates.update(
                map_outputs(config.outputs, visible, ended, engine.expressions, self.bpmn_id)
            )
        my_task.data = {**my_task.data, **updates}


def _declares(subworkflow: Any, kind: str) -> bool:
    io_specification = subworkflow.spec.io_specification
    return io_specification is not None and len(getattr(io_specification, kind)) > 0


class SandboxScriptTask(ScriptTask):
    """A script task: a script body (Python, sandboxed) or a Camunda 8 expression with a result
    variable (``zeebe:script``)."""

    def __init__(
        self,
        wf_spec: Any,
        bpmn_id: str,
        script: str,
        result_variable: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(wf_spec, bpmn_id, script, **kwargs)
        self.result_variable = result_variable

    def _execute(self, my_task: Task) -> bool:
        engine = script_engine_of(my_task)
        if self.result_variable:
            result = {self.result_variable: engine.evaluate(my_task, self.script)}
            check_variables(result, f"script at '{self.bpmn_id}'")
            my_task.data.update(result)
            return True
        return engine.execute(my_task, self.script)


_COMPENSATED = "rf_compensated"
"""Internal-data key of a compensation throw: the ids of the activity tasks it compensated."""


class _CompensationThrow:
    """Compensation as Camunda 8 runs it (SpiffWorkflow 3.2 has none): entering the event
    invokes, at once, the compensation handler of every completed activity of its (sub)process
    that has a compensation boundary event (only ``activity_ref``'s, when set); the event waits
    until every handler has completed, then takes its outgoing flow with the variables they
    wrote. The handlers are tasks of the same workflow, children of the throw, so they persist
    and run (as jobs, user tasks ...) like any other task."""

    activity_ref: str | None
    _update: Callable[[Task], None]  # SpiffWorkflow's, from the task spec class it mixes into

    def _update_hook(self, my_task: Task) -> bool:
        if _COMPENSATED not in my_task.internal_data:
            super()._update_hook(my_task)  # type: ignore[misc]
            my_task.internal_data[_COMPENSATED] = [
                str(activity.id) for activity in self._invoke_handlers(my_task)
            ]
        handlers = [child for child in my_task.children if child.triggered]
        if any(child.state & TaskState.NOT_FINISHED_MASK for child in handlers):
            if my_task.state != TaskState.WAITING:
                my_task._set_state(TaskState.WAITING)
            return False
        for handler in handlers:
            my_task.data.update(handler.data)
        return True

    def _invoke_handlers(self, my_task: Task) -> list[Task]:
        handlers: dict[str, str] = getattr(my_task.workflow.spec, "compensation_handlers", {})
        wanted = [self.activity_ref] if self.activity_ref else list(handlers)
        tasks = list(my_task.workflow.tasks.values())
        # An activity is compensated once, whichever throw reached it first.
        done = {
            activity_id
            for task in tasks
            if isinstance(task.task_spec, _CompensationThrow)
            for activity_id in task.internal_data.get(_COMPENSATED, ())
        }
        compensated = []
        for activity in tasks:
            element_id = getattr(activity.task_spec, "bpmn_id", None)
            if (
                activity.state != TaskState.COMPLETED
                or element_id not in wanted
                or element_id not in handlers
                or str(activity.id) in done
            ):
                continue
            handler_spec = my_task.workflow.spec.task_specs[handlers[element_id]]
            handler = my_task._add_child(handler_spec, TaskState.FUTURE)
            handler.triggered = True
            handler.task_spec._update(handler)
            compensated.append(activity)
        return compensated


def resume_compensation_throw(workflow: Any, handler: Task) -> None:
    """Connected to each compensation handler's completion: its throw event may go on."""
    throw = handler.parent
    if throw is not None and isinstance(throw.task_spec, _CompensationThrow):
        throw.task_spec._update(throw)


class CompensationThrowEvent(_CompensationThrow, IntermediateThrowEvent):
    """An intermediate compensation throw event (``activityRef`` optional)."""

    def __init__(
        self, wf_spec: Any, bpmn_id: str, activity_ref: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.activity_ref = activity_ref


class CompensationEndEvent(_CompensationThrow, EndEvent):
    """A compensation end event (``activityRef`` optional)."""

    def __init__(
        self, wf_spec: Any, bpmn_id: str, activity_ref: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.activity_ref = activity_ref


class PassThroughTask(NoneTask):
    """An undefined or manual task: Camunda passes straight through it; SpiffWorkflow would
    wait for someone to complete it."""

    def __init__(self, wf_spec: Any, bpmn_id: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = False


OUTPUT_ELEMENT = "rf_output_element"
"""Where an instance of a multi-instance activity keeps its evaluated ``outputElement``
expression while SpiffWorkflow collects it."""
_INPUT_COLLECTION = "rf_input_collection"


class EvaluatedCollection:
    """A multi-instance input collection written as an expression (``=order.items``,
    ``=[1, 2, 3]``): evaluated once, when the activity starts (as Camunda does), and kept in
    the activity's internal data, so every instance reads the same items even when the
    variables change meanwhile. Quacks like SpiffWorkflow's ``TaskDataReference``."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.bpmn_id = expression  # what SpiffWorkflow's data errors show

    def get(self, my_task: Task) -> Any:
        if _INPUT_COLLECTION not in my_task.internal_data:
            my_task.internal_data[_INPUT_COLLECTION] = script_engine_of(my_task).evaluate(
                my_task, self.expression
            )
        return my_task.internal_data[_INPUT_COLLECTION]

    def exists(self, my_task: Task) -> bool:
        return self.get(my_task) is not None


class _LocalInputItem:
    """Camunda's multi-instance scoping on SpiffWorkflow's: the ``inputElement`` is local to
    each instance (SpiffWorkflow merges it back into the parent, after which the next instance
    refuses to start, "already exists"), the output collection follows the input's order,
    not the order in which instances happened to finish, and an instance that never set the
    ``outputElement`` contributes null."""

    input_item: Any
    output_item: Any
    data_output: Any
    output_expression: str | None = None
    """An ``outputElement`` that is an expression, not a variable: evaluated in each
    instance's scope as it completes."""

    def merge_child(self, workflow: Any, child: Task) -> None:
        collects = self.data_output is not None and self.output_item is not None
        if collects and self.output_expression is not None:
            self.output_item.set(
                child, script_engine_of(child).evaluate(child, self.output_expression)
            )
        if self.input_item is not None and not collects:
            child.data.pop(self.input_item.bpmn_id, None)
        if collects and not self.output_item.exists(child):
            # Camunda evaluates outputElement in the instance's scope, where a variable it
            # never set is null; SpiffWorkflow would stop the whole activity with an error.
            self.output_item.set(child, None)
        parent = child.parent
        super().merge_child(workflow, child)  # type: ignore[misc]
        index = child.internal_data.get("key_or_index")
        output = self.data_output.get(parent) if collects else None
        if isinstance(output, list) and isinstance(index, int):
            order = parent.internal_data.setdefault("rf_output_order", [])
            order.append(index)
            if len(order) == len(output):
                output[:] = [
                    item
                    for _, item in sorted(zip(order, output, strict=True), key=lambda pair: pair[0])
                ]
                order.sort()
        if self.output_expression is not None:
            child.data.pop(OUTPUT_ELEMENT, None)


class LocalParallelMultiInstance(_LocalInputItem, ParallelMultiInstanceTask):
    """A parallel multi-instance activity with Camunda's variable scoping."""


class LocalSequentialMultiInstance(_LocalInputItem, SequentialMultiInstanceTask):
    """A sequential multi-instance activity with Camunda's variable scoping."""


def is_visible(spec: TaskSpec) -> bool:
    """True for specs drawn on the diagram (SpiffWorkflow adds internal ones)."""
    return getattr(spec, "bpmn_id", None) is not None
