"""Instance state as bytes, with the process spec left out.

SpiffWorkflow's default serialization embeds the whole spec in every instance. The store keeps
each deployed file once, so the state here holds only the instance's own tasks and data; on
load the spec compiled from the deployment is attached again.

Task and workflow data are the process variables, so they are written in the variable codec's
form (``retailflow.model.variables``), not through SpiffWorkflow's registry: a reloaded run
then reads every variable with the value and type the live run had (the registry knows no
``date``, ``time``, big integer or time zone). State written before (``retailflow-state/1``,
data in the registry's form) is still read.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
    TaskConverter,
)
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.serializer.helpers.spec import EventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from retailflow.engine.spiff.compiler import CompiledProcess
from retailflow.engine.spiff.specs import ClockTimerEventDefinition, KeyedMessageEventDefinition
from retailflow.engine.spiff.workflow import RetailSubWorkflow, RetailTask, RetailWorkflow
from retailflow.model.variables import decode_variables, encode_variables

STATE_FORMAT = "retailflow-state/2"
_LEGACY_FORMAT = "retailflow-state/1"
# Date-times in SpiffWorkflow's own objects (events) go to the registry, not to orjson's
# strings, so they come back as date-times.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
_FINISHED = TaskState.COMPLETED | TaskState.CANCELLED
_NOT_REACHED = TaskState.MAYBE | TaskState.LIKELY | TaskState.FUTURE
# A task's attribute holding (what its entry was made of, its id as text, its encoded entry).
_ENCODED = "_rf_encoded"


_TUNED: dict[type, type] = {
    BpmnWorkflow: RetailWorkflow,
    BpmnSubWorkflow: RetailSubWorkflow,
    Task: RetailTask,
}


class _RestoresTuned:
    """A converter that restores the tuned subclass (``retailflow.engine.spiff.workflow``) of
    the class it is registered for, under that class's name in the state."""

    def __init__(self, target_class: type, registry: Any, typename: str | None = None) -> None:
        super().__init__(  # type: ignore[call-arg]
            _TUNED[target_class], registry, typename or target_class.__name__
        )


class _SpeclessWorkflowConverter(_RestoresTuned, BpmnWorkflowConverter):
    """Restores a workflow from state written without its spec, re-attaching the compiled
    spec of the deployment."""

    def from_dict(
        self, dct: dict[str, Any], compiled: CompiledProcess | None = None, **kwargs: Any
    ) -> BpmnWorkflow:
        if compiled is None:
            raise ValueError("a retailflow state needs its compiled process to be restored")
        workflow = self.target_class(compiled.spec, compiled.subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = []
        return workflow


class _CodecData:
    """Restores a workflow's (or sub-workflow's) data from the variable codec's form."""

    def set_default_attributes(self, workflow: Any, dct: dict[str, Any]) -> None:
        data = dct.pop("data", {})
        super().set_default_attributes(workflow, dct)  # type: ignore[misc]
        workflow.data = decode_variables(data)


class _WorkflowConverter(_CodecData, _SpeclessWorkflowConverter):
    """A ``retailflow-state/2`` workflow."""


class _TunedSubWorkflowConverter(_RestoresTuned, BpmnSubWorkflowConverter):
    """A sub-workflow, restored as the tuned class."""


class _SubWorkflowConverter(_CodecData, _TunedSubWorkflowConverter):
    """A ``retailflow-state/2`` sub-workflow (a call activity's or sub-process's)."""


class _TunedTaskConverter(_RestoresTuned, TaskConverter):
    """A task, restored as the tuned class."""


class _TaskConverter(_TunedTaskConverter):
    """A ``retailflow-state/2`` task: its data (whole for the root, else the delta from its
    parent's) in the variable codec's form, and the payloads among its internal data too."""

    def from_dict(self, dct: dict[str, Any], workflow: Any) -> Task:
        task: Task = super().from_dict(
            {**dct, "internal_data": {}, "data": {}, "delta": {}}, workflow
        )
        task.internal_data = self.registry.restore(decode_variables(dct["internal_data"]))
        delta = dct.get("delta")
        if delta and task.parent is not None:
            data = DeepMerge.merge({}, task.parent.data)
            data.update(decode_variables(delta.get("updates", {})))
            for key in delta.get("deletions", ()):
                data.pop(key, None)
        else:
            data = decode_variables(dct["data"])
        task.data = data
        return task


class _ClockTimerConverter(EventDefinitionConverter):
    """Timers travel in task data only while an event-based gateway records what it saw."""

    def to_dict(self, event_definition: ClockTimerEventDefinition) -> dict[str, Any]:
        dct: dict[str, Any] = super().to_dict(event_definition)
        dct.update(
            expression=event_definition.expression,
            kind=event_definition.kind,
            element_id=event_definition.element_id,
            quartz_cron=event_definition.quartz_cron,
        )
        return dct


class _KeyedMessageConverter(EventDefinitionConverter):
    """Messages, for the same reason as timers."""

    def to_dict(self, event_definition: KeyedMessageEventDefinition) -> dict[str, Any]:
        dct: dict[str, Any] = super().to_dict(event_definition)
        dct.update(
            correlation_key=event_definition.correlation_key, element_id=event_definition.element_id
        )
        return dct


def _configure(*, legacy: bool = False) -> BpmnWorkflowSerializer:
    config = dict(DEFAULT_CONFIG)
    config[ClockTimerEventDefinition] = _ClockTimerConverter
    config[KeyedMessageEventDefinition] = _KeyedMessageConverter
    config[BpmnSubWorkflow] = _TunedSubWorkflowConverter
    config[Task] = _TunedTaskConverter
    if legacy:
        config[BpmnWorkflow] = _SpeclessWorkflowConverter
    else:
        config[BpmnWorkflow] = _WorkflowConverter
        config[BpmnSubWorkflow] = _SubWorkflowConverter
        config[Task] = _TaskConverter
    registry = BpmnWorkflowSerializer.configure(config)
    if legacy:
        registry.register(
            Decimal, lambda value: {"value": str(value)}, lambda dct: Decimal(dct["value"])
        )
    return BpmnWorkflowSerializer(registry)


class StateCodec:
    """Encodes and decodes instance state; one per engine (building it is not free).

    Encoding writes the same structure SpiffWorkflow's converters write (so decoding is
    SpiffWorkflow's own restore, migrations included), but builds it directly: the generic
    converter registry walk costs several times more, on every committed step. Variables go
    through the variable codec; the engine's own objects (events) through the registry in
    ``default``.
    """

    def __init__(self) -> None:
        self._serializer = _configure()
        self._legacy = _configure(legacy=True)
        self._default = create_encoder(self._serializer.registry)().default

    def dump(self, workflow: BpmnWorkflow) -> bytes:
        registry = self._serializer.registry
        registry._encoder_mode = True
        try:
            return self._encode(workflow)
        finally:
            registry._encoder_mode = False

    def _encode(self, workflow: BpmnWorkflow) -> bytes:
        default = self._default
        dct = _workflow_dict(workflow, default)
        dct["subprocesses"] = {
            str(task_id): {
                **_workflow_dict(sub, default),
                "parent_task_id": str(sub.parent_task_id),
                "spec": sub.spec.name,
                "typename": "BpmnSubWorkflow",
            }
            for task_id, sub in workflow.subprocesses.items()
        }
        dct.update(bpmn_events=[], typename="BpmnWorkflow", format=STATE_FORMAT)
        try:
            return orjson.dumps(dct, default=default, option=_ORJSON_OPTIONS)
        except orjson.JSONEncodeError as error:
            raise TypeError(f"instance state cannot be stored: {error}") from error

    def load(self, state: bytes, compiled: CompiledProcess) -> BpmnWorkflow:
        dct = orjson.loads(state)
        serializer = self._serializer
        if dct.pop("format", None) == _LEGACY_FORMAT:
            serializer = self._legacy
        return serializer.registry.restore(dct, compiled=compiled)


def _workflow_dict(workflow: Any, default: Any) -> dict[str, Any]:
    """What ``WorkflowConverter.to_dict`` writes, for a process or a subprocess."""
    last = workflow.last_task
    return {
        "data": encode_variables(workflow.data, "the process's variables"),
        "correlations": workflow.correlations,
        "last_task": str(last.id) if last is not None else None,
        "success": workflow.success,
        "completed": workflow.completed,
        "tasks": _tasks(workflow, default),
        "root": str(workflow.task_tree.id),
    }


def _tasks(workflow: Any, default: Any) -> dict[str, Any]:
    """Every task's entry, reusing the one a previous commit encoded when nothing it is made
    of has changed since (``_unchanged_since``). What was encoded is kept on the task itself:
    a lookup by task id would hash a UUID in Python, several times per task and commit."""
    tasks = workflow.tasks
    entries: dict[str, Any] = {}
    for task in tasks.values():
        signature, text, fragment = task.__dict__.get(_ENCODED) or (None, None, None)
        if text is None:
            text = _text(task.id)
        elif type(signature) is float and signature == task.last_state_change:
            entries[text] = fragment  # finished for good
            continue
        parent = tasks.get(task._parent) if task._parent is not None else None
        now = _unchanged_since(task, parent)
        if now is None or now != signature:
            entry = _task_dict(task, text, parent)
            fragment = None
            if now is not None:
                encoded = orjson.dumps(entry, default=default, option=_ORJSON_OPTIONS)
                fragment = orjson.Fragment(encoded)
            task.__dict__[_ENCODED] = (now, text, fragment)
        entries[text] = fragment if fragment is not None else entry
    return entries


@lru_cache(maxsize=65536)
def _text(task_id: UUID) -> str:
    """Task ids as text; cached, since ``UUID.__str__`` is a visible cost on every commit."""
    return str(task_id)


def _unchanged_since(task: Any, parent: Any) -> Any:
    """What a task's entry is made of that can still change, as a value to compare at the
    next commit (``None``: its entry is not kept). A finished task whose parent is finished
    too never changes again: its time of change says so. A task not yet reached (predicted,
    or future) holds no data of its own, so its entry is its state, its children and the
    names its parent holds (its delta deletes them all); it is kept only while that holds."""
    state = task.state
    if state & _FINISHED:
        if parent is None or parent.state & _FINISHED:
            return task.last_state_change
        return None
    if state & _NOT_REACHED and not task.data and not task.internal_data and parent is not None:
        return (task.last_state_change, state, task.triggered, tuple(task._children), *parent.data)
    return None


def _task_dict(task: Any, text: str, parent: Any) -> dict[str, Any]:
    """What ``TaskConverter.to_dict`` writes: a task's data as a delta from its parent's (the
    caller has looked ``parent`` up already: each lookup hashes a UUID in Python), in the
    variable codec's form. Its internal data holds message payloads (variables, in the codec's
    form too) beside the engine's own bookkeeping (events, evaluated job settings), which is
    left as it is for orjson and the registry's ``default``."""
    parent_id = task._parent
    data = task.data
    where = f"the variables at '{task.task_spec.bpmn_id or task.task_spec.name}'"
    if parent_id is None:
        full, delta = encode_variables(data, where), {}
    else:
        parent_data = parent.data
        full = {}
        delta = {
            "updates": encode_variables(
                {
                    key: value
                    for key, value in data.items()
                    if key not in parent_data or _changed(parent_data[key], value)
                },
                where,
            ),
            "deletions": [key for key in parent_data if key not in data],
        }
    return {
        "id": text,
        "parent": _text(parent_id) if parent_id is not None else None,
        "children": [_text(child) for child in task._children],
        "last_state_change": task.last_state_change,
        "state": task.state,
        "task_spec": task.task_spec.name,
        "triggered": task.triggered,
        "internal_data": encode_variables(task.internal_data, where, other=_as_is),
        "data": full,
        "delta": delta,
        "typename": "Task",
    }


def _as_is(value: Any) -> Any:
    return value


_SAME_WHEN_EQUAL = frozenset({str, int, bool, type(None), date, timedelta})


def _changed(before: Any, after: Any) -> bool:
    """Whether a task's value differs from its parent's. Equal values can still differ (1 and
    1.0, 0.0 and -0.0, Decimal 1.0 and 1.00, one instant in two zones): left out of the
    delta, a reload would read the parent's."""
    if before is after:
        return False
    if type(before) is not type(after) or before != after:
        return True
    if type(after) in _SAME_WHEN_EQUAL:
        return False
    try:
        return repr(before) != repr(after)
    except (ValueError, RecursionError):  # an int too long to print, a value nested too deep
        return True
