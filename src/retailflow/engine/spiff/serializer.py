"""Instance state as bytes, with the process spec left out.

SpiffWorkflow's default serialization embeds the whole spec in every instance. The store keeps
each deployed file once, so the state here holds only the instance's own tasks and data; on
load the spec compiled from the deployment is attached again.

Task and workflow data are the process variables, so they are written in the variable codec's
form (``retailflow.model.variables``), not through SpiffWorkflow's registry: a reloaded run
then reads every variable with the value and type the live run had (the registry knows no
``date``, ``time``, big integer or time zone). The state is written on every committed step,
so format 3 (``StateCodec``) is compact and mostly re-used from the previous commit. State
written before (``retailflow-state/1``, data in the registry's form, and ``retailflow-state/2``,
SpiffWorkflow's own layout) is still read, through SpiffWorkflow's converters.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
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
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from retailflow.engine.spiff.compiler import CompiledProcess
from retailflow.engine.spiff.specs import ClockTimerEventDefinition, KeyedMessageEventDefinition
from retailflow.engine.spiff.workflow import RetailSubWorkflow, RetailTask, RetailWorkflow
from retailflow.model import ExecutionError
from retailflow.model.variables import decode_variables, encode_variables

STATE_FORMAT = "retailflow-state/3"
_FORMAT_1 = "retailflow-state/1"
_FORMAT_2 = "retailflow-state/2"
# Date-times in SpiffWorkflow's own objects (events) go to the registry, not to orjson's
# strings, so they come back as date-times.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
# A task's attributes holding (what its entry was made of, its encoded entry, the place of the
# task whose re-encoding makes it stale), and its place in the list of its workflow's tasks at
# the last encoding.
_ENCODED = "_rf_encoded"
_POSITION = "_rf_position"
# A workflow's attribute holding the list of its tasks the last encoding wrote.
_LISTED = "_rf_listed"
# What a task's entry leaves off at its end: no children, no data, no internal data, not
# triggered (a ``{}`` for data is kept: it means the parent's data, unchanged).
_TRAILING_DEFAULTS: tuple[Any, ...] = ([], None, {}, False)
# Date-times, subclasses of JSON's types and every other object go to ``_tagged`` in a
# signature, so that values of two types printed alike differ; keys other than text fail it.
_SIGNATURE_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
_TAGGED = frozenset({date, datetime, time, timedelta, Decimal})
_TAG = "\x00retailflow-signature"


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

    State is written in format 3 (``retailflow-state/3``), a compact form of what
    SpiffWorkflow's converters write: each workflow's tasks as a list in the order of its task
    table, each task an array whose fields equal to their default are left off, its parent and
    children given by their place in that list. A task's encoded entry is kept on the task and
    reused while nothing it is made of changes (``_signature``). Formats 1 and 2 are
    still read, through SpiffWorkflow's converters.
    """

    def __init__(self) -> None:
        self._serializer = _configure()
        self._legacy = _configure(legacy=True)
        self._registry = self._serializer.registry
        self._default = create_encoder(self._registry)().default

    def dump(self, workflow: BpmnWorkflow) -> bytes:
        registry = self._registry
        registry._encoder_mode = True
        try:
            return self._encode(workflow)
        finally:
            registry._encoder_mode = False

    def _encode(self, workflow: BpmnWorkflow) -> bytes:
        default = self._default
        dct = _workflow_entry(workflow, default)
        if workflow.subprocesses:
            dct["subprocesses"] = {
                task_id.hex: _workflow_entry(sub, default)
                for task_id, sub in workflow.subprocesses.items()
            }
        dct["format"] = STATE_FORMAT
        try:
            return orjson.dumps(dct, default=default, option=_ORJSON_OPTIONS)
        except orjson.JSONEncodeError as error:
            raise TypeError(f"instance state cannot be stored: {error}") from error

    def load(self, state: bytes, compiled: CompiledProcess) -> BpmnWorkflow:
        dct = orjson.loads(state)
        stored_format = dct.pop("format", None)
        if stored_format == STATE_FORMAT:
            return self._restore(dct, compiled)
        if stored_format not in (_FORMAT_1, _FORMAT_2, None):
            raise ExecutionError(
                f"the stored state is in format {stored_format!r}, which this retailflow "
                f"cannot read (it reads {_FORMAT_1} to {STATE_FORMAT}): a newer retailflow "
                "wrote it; run that version or a newer one (docs/production.md, 'Upgrading "
                "the schema')"
            )
        serializer = self._legacy if stored_format == _FORMAT_1 else self._serializer
        return serializer.registry.restore(dct, compiled=compiled)

    def _restore(self, dct: dict[str, Any], compiled: CompiledProcess) -> BpmnWorkflow:
        """A format 3 state: what ``BpmnWorkflowConverter.from_dict`` does, spec attached."""
        workflow = RetailWorkflow(compiled.spec, compiled.subprocess_specs, deserializing=True)
        self._restore_workflow(workflow, dct, workflow)
        self._restore_subprocesses(dct.get("subprocesses", {}), workflow, workflow)
        workflow.bpmn_events = []
        return workflow

    def _restore_subprocesses(self, entries: dict[str, Any], workflow: Any, top: Any) -> None:
        """``BpmnWorkflowConverter.subprocesses_from_dict``: parents before their children."""
        for task in list(workflow.tasks.values()):
            if not isinstance(task.task_spec, SubWorkflowTask):
                continue
            entry = entries.pop(task.id.hex, None)
            if entry is None:
                continue
            spec = top.subprocess_specs.get(task.task_spec.spec)
            sub = RetailSubWorkflow(spec, task.id, top, deserializing=True)
            self._restore_workflow(sub, entry, top)
            top.subprocesses[task.id] = sub
            sub.completed_event.connect(task.task_spec._on_subworkflow_completed, task)
            self._restore_subprocesses(entries, sub, top)

    def _restore_workflow(self, workflow: Any, dct: dict[str, Any], top: Any) -> None:
        """A workflow's (or sub-workflow's) tasks and attributes, as ``TaskConverter`` and
        ``WorkflowConverter`` restore them."""
        entries = dct["tasks"]
        ids = [UUID(hex=entry[0]) for entry in entries]
        tasks: dict[UUID, Any] = {}
        workflow.tasks = tasks
        specs = workflow.spec.task_specs
        restore = self._registry.restore
        waiting_events = top.event_manager
        for task_id, entry in zip(ids, entries, strict=True):
            size = len(entry)
            spec = specs.get(entry[2])
            task = RetailTask(workflow, spec, state=entry[3], id=task_id)
            task._parent = _uuid(entry[1], ids)
            task._children = [_uuid(child, ids) for child in entry[5]] if size > 5 else []
            task.last_state_change = entry[4]
            task.triggered = size > 8 and entry[8]
            if isinstance(spec, CatchingEvent) and task._state & TaskState.WAITING:
                waiting_events.add_task(task)
            task.internal_data = restore(decode_variables(entry[7])) if size > 7 else {}
            stored = entry[6] if size > 6 else None
            parent = tasks.get(task._parent) if task._parent is not None else None
            if stored is None:
                task.data = {}
            elif parent is None:
                task.data = decode_variables(stored)
            else:
                updates, deletions = stored if type(stored) is list else (stored, ())
                data = DeepMerge.merge({}, parent.data)
                data.update(decode_variables(updates))
                for key in deletions:
                    data.pop(key, None)
                task.data = data
        workflow.task_tree = tasks.get(ids[dct.get("root", 0)])
        workflow.success = dct.get("success", True)
        workflow.completed = dct.get("completed", False)
        workflow.correlations = dct.get("correlations", {})
        if "last_task" in dct:
            workflow.last_task = tasks.get(ids[dct["last_task"]])
        workflow.data = decode_variables(dct.get("data", {}))


def _uuid(reference: int | str | None, ids: list[UUID]) -> UUID | None:
    """A task id from a task's entry: its place in the list, or (for a task not in it) its
    id as hexadecimal text."""
    if isinstance(reference, int):
        return ids[reference]
    return UUID(hex=reference) if reference is not None else None


def _workflow_entry(workflow: Any, default: Any) -> dict[str, Any]:
    """What ``WorkflowConverter.to_dict`` writes, for a process or a subprocess, its tasks in
    format 3 and each attribute left off where it has its default."""
    tasks = workflow.tasks
    dct: dict[str, Any] = {"tasks": _tasks(workflow, default)}
    if workflow.data:
        dct["data"] = encode_variables(workflow.data, "the process's variables")
    if workflow.correlations:
        dct["correlations"] = workflow.correlations
    last = workflow.last_task
    if last is not None and tasks.get(last.id) is last:
        dct["last_task"] = last.__dict__[_POSITION]
    if not workflow.success:
        dct["success"] = False
    if workflow.completed:
        dct["completed"] = True
    root = workflow.task_tree.__dict__[_POSITION]
    if root != 0:
        dct["root"] = root
    return dct


def _tasks(workflow: Any, default: Any) -> list[Any]:
    """Every task's entry, in the order of the task table, reusing the one a previous commit
    encoded while nothing it is made of has changed since (``_signature``). What was encoded
    is kept on the task itself: a lookup by task id would hash a UUID in Python.

    An entry names its parent and children by their place in the list; each task's place is
    kept on it too, and once a task was dropped from the table (the places after it moved)
    every entry is encoded again. A task's data is written as the change from its parent's,
    so its entry is encoded again whenever its parent's is (a parent comes first)."""
    tasks = workflow.tasks
    values = list(tasks.values())
    # Tasks are added at the end of the table: while the list the last commit wrote is the
    # start of this one (compared by identity, in C), every place it gave still holds.
    listed = workflow.__dict__.get(_LISTED)
    kept_places = len(listed) if listed is not None and values[: len(listed)] == listed else 0
    moved = listed is not None and kept_places == 0
    for position in range(kept_places, len(values)):
        values[position].__dict__[_POSITION] = position
    workflow.__dict__[_LISTED] = values
    entries: list[Any] = []
    encoded: set[int] = set()  # the places of the entries encoded afresh by this commit
    for position, task in enumerate(values):
        attributes = task.__dict__
        kept = None if moved else attributes.get(_ENCODED)
        signature = _signature(task)
        if kept is not None and kept[0] == signature and kept[2] not in encoded:
            entries.append(kept[1])
            continue
        encoded.add(position)
        parent = tasks.get(task._parent) if task._parent is not None else None
        entry = _task_entry(task, parent, tasks)
        depends_on = parent.__dict__[_POSITION] if task.data and parent is not None else -1
        if signature is None or depends_on > position:
            attributes[_ENCODED] = None
            entries.append(entry)
        else:
            fragment = orjson.Fragment(orjson.dumps(entry, default=default, option=_ORJSON_OPTIONS))
            attributes[_ENCODED] = (signature, fragment, depends_on)
            entries.append(fragment)
    return entries


def _signature(task: Any) -> bytes | None:
    """Everything a task's entry is made of but the places of others (their ids are in it),
    as bytes orjson writes in C: to compare at the next commit. Finished tasks change too:
    they gain children (an event sub-process started under the root), the engine writes
    variables into the last one (an operator's change) or marks it (compensated), and a
    nested value its data shares with a running task's changes with it (SpiffWorkflow copies
    data one level deep). ``None`` (its entry encoded at every commit) when it holds what the
    signature cannot tell apart exactly (``_tagged``)."""
    try:
        return orjson.dumps(
            (
                task._state,
                task.last_state_change,
                task.triggered,
                task._parent,
                task._children,
                task.data,
                task.internal_data,
            ),
            default=_tagged,
            option=_SIGNATURE_OPTIONS,
        )
    except orjson.JSONEncodeError:
        return None


def _tagged(value: Any) -> list[str]:
    """A value of the variable codec's own types in a signature, by its type and ``repr``
    (a date and the text it prints as differ); any other object (an engine's event) cannot
    be compared by its printed form, and fails the signature."""
    if type(value) in _TAGGED:
        return [_TAG, type(value).__name__, repr(value)]
    raise TypeError(f"{type(value).__name__} in a signature")


def _task_entry(task: Any, parent: Any, tasks: dict[UUID, Any]) -> list[Any]:
    """A task's entry: ``[id, parent, task spec, state, last state change, children, data,
    internal data, triggered]``, the trailing fields equal to their default ([], no data, {},
    false) left off. Its data is empty (``null``), or the whole of it for a task without a
    parent, or the change from its parent's: ``updates`` or ``[updates, deletions]``, in the
    variable codec's form. Its internal data holds message payloads (variables, in the codec's
    form too) beside the engine's own bookkeeping (events, evaluated job settings), which is
    left as it is for orjson and the registry's ``default``."""
    where = f"the variables at '{task.task_spec.bpmn_id or task.task_spec.name}'"
    data = task.data
    stored: Any = None
    if data and parent is None:
        stored = encode_variables(data, where)
    elif data:
        parent_data = parent.data
        updates = {
            key: value
            for key, value in data.items()
            if key not in parent_data or _changed(parent_data[key], value)
        }
        stored = encode_variables(updates, where) if updates else {}
        deletions = [key for key in parent_data if key not in data]
        if deletions:
            stored = [stored, deletions]
    if parent is not None:
        parent_reference: int | str | None = parent.__dict__[_POSITION]
    else:
        parent_reference = _reference(task._parent, tasks)
    internal = task.internal_data
    entry = [
        task.id.hex,
        parent_reference,
        task.task_spec.name,
        task._state,
        task.last_state_change,
        [_reference(child, tasks) for child in task._children],
        stored,
        encode_variables(internal, where, other=_as_is) if internal else {},
        task.triggered,
    ]
    while len(entry) > 5 and entry[-1] == _TRAILING_DEFAULTS[len(entry) - 6]:
        entry.pop()
    return entry


def _reference(task_id: UUID | None, tasks: dict[UUID, Any]) -> int | str | None:
    """How an entry names another task: its place in the list, its id for one not there."""
    if task_id is None:
        return None
    task = tasks.get(task_id)
    return task.__dict__[_POSITION] if task is not None else task_id.hex


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
