"""SpiffWorkflow's workflow and task classes with the costs of every step that buy nothing
taken off, same behaviour (``tests/engine/test_spiff_stepping.py`` holds them to it).

After each task completes, SpiffWorkflow calls ``update_waiting_tasks``: a walk of the whole task
tree looking for WAITING tasks (timers, messages, signals, event-based gateways, boundary
events, joins, call activities) to re-check. Most steps have none, and the walk then finds
nothing: a flat scan of the workflow's task table, which holds every task of the tree, says so
for a fraction of the walk's cost; when some task waits, SpiffWorkflow's own walk runs as
before, in its order.

SpiffWorkflow builds a log record's extras (and its message) before the logger decides whether
to write anything: a task on every state change, a workflow when it starts, completes or is
cancelled (with a walk listing every task). retailflow puts SpiffWorkflow's loggers at WARNING
(``quiet_logs``), so both are built here only when the logger would write the record.

Two of SpiffWorkflow's task-tree walks run on every instance: a catching event (a start
event, say) looks for the tasks of its own spec below it, and the join that ends a process
looks for any unfinished task before it lets the process end. Both walk every task with
SpiffWorkflow's general-purpose iterator; here the first walks the tree directly and the
second scans the task table, checking only unfinished tasks' ancestors. Each finds what the
iterator finds, depth limit included.

A new workflow (or sub-process) starts as its spec's whole predicted task tree: SpiffWorkflow
builds it by predicting every path from the start, the same tree for every instance of a spec
(no data exists yet). The first instance of a spec plants it that way and keeps its shape
(each task's spec, parent and state, in creation order); the next ones are built from that
shape directly, same tasks in the same order, new ids. While SpiffWorkflow's task log writes,
every tree is predicted as before, so that its records stay complete.

Every task is made as ``Task.__init__`` makes one, without its lookups, with a random (version
4) id made without ``UUID.__init__``'s argument checks; and a spec's ``test()``, a check of the
spec alone that SpiffWorkflow repeats whenever a task becomes ready, runs once per spec.

``RetailWorkflow`` is what ``ProcessRun`` starts and what ``StateCodec`` restores; its
sub-processes and call activities are ``RetailSubWorkflow``, and every task is a
``RetailTask``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from typing import Any, NamedTuple
from uuid import UUID, SafeUUID
from weakref import WeakKeyDictionary, WeakSet

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

_WORKFLOW_LOG = logging.getLogger("spiff.workflow")
"""The logger SpiffWorkflow writes a workflow's start, completion and cancellation to (INFO)."""
_TASK_LOG = logging.getLogger("spiff.task")
"""The logger SpiffWorkflow writes a task's state changes to (INFO; DEBUG when unchanged)."""


def any_in(tasks: Iterable[Task], states: int) -> bool:
    """Whether a task is in one of ``states`` (a mask). A plain loop reading ``_state``: on
    a task table of tens of tasks it is faster than ``any()`` over a generator, or ``map``
    with ``attrgetter``, and the ``state`` property would be one more call per task."""
    for task in tasks:  # noqa: SIM110 - see above
        if task._state & states:
            return True
    return False


_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)
"""The version (4) and variant (RFC 4122) bits of a random UUID, as ``uuid4`` sets them."""
_UNKNOWN_SAFETY = SafeUUID.unknown  # read once: an enum member's lookup is a Python call


def _new_id() -> UUID:
    """``uuid4()``: 128 random bits with its version and variant, made without the argument
    checks of ``UUID.__init__`` (a third of the cost of every task SpiffWorkflow creates)."""
    task_id = object.__new__(UUID)
    object.__setattr__(task_id, "int", int.from_bytes(os.urandom(16)) & _UUID4_CLEAR | _UUID4_SET)
    object.__setattr__(task_id, "is_safe", _UNKNOWN_SAFETY)
    return task_id


def _new_task(workflow: Any, spec: TaskSpec, parent: Task | None, state: int) -> RetailTask:
    """A task as ``Task.__init__`` makes one (its attributes in the same order), the last
    child of ``parent``, in the same thread."""
    task = RetailTask.__new__(RetailTask)
    task.id = task_id = _new_id()
    workflow.tasks[task_id] = task
    task.workflow = workflow
    task._parent = None if parent is None else parent.id
    task._children = []
    task._state = state
    task.triggered = False
    task.task_spec = spec
    task.thread_id = RetailTask.thread_id_pool if parent is None else parent.thread_id
    task.data = {}
    task.internal_data = {}
    task.last_state_change = time.time()
    if parent is not None:
        parent._children.append(task_id)
    return task


_TESTED: WeakSet[TaskSpec] = WeakSet()
"""Task specs whose ``test()`` passed: it checks the spec alone (its inputs, a gateway's
default), so it passes again every time a task of the spec becomes ready."""


class RetailTask(Task):
    """A task whose state changes build their log record only when ``spiff.task`` writes it,
    made without ``Task.__init__``'s lookups, and whose spec is tested once, not on every
    ``_ready``."""

    def _add_child(self, task_spec: TaskSpec, state: int = TaskState.MAYBE) -> Task:
        """``Task._add_child``, the child a ``RetailTask`` too."""
        if self.has_state(TaskState.PREDICTED_MASK) and state & TaskState.PREDICTED_MASK == 0:
            raise WorkflowException(
                "Attempt to add non-predicted child to predicted task", task_spec=self.task_spec
            )
        task = _new_task(self.workflow, task_spec, self, state)
        if state == TaskState.READY:
            task._ready()
        return task

    def _ready(self) -> None:
        """``Task._ready``: ``TaskSpec._on_ready`` (test the spec, run its pre-assignments and
        its hook), with the test left out once the spec has passed it."""
        if self._state & (TaskState.COMPLETED | TaskState.CANCELLED):
            return
        self._set_state(TaskState.READY)
        spec = self.task_spec
        if spec in _TESTED:
            for assignment in spec.pre_assign:
                assignment.assign(self, self)
            spec._on_ready_hook(self)
        else:
            spec._on_ready(self)
            if type(spec)._on_ready is TaskSpec._on_ready:  # no class of its own changes it
                _TESTED.add(spec)

    def _set_state(self, value: int) -> None:
        """``Task._set_state``; without its log record when the logger would drop it."""
        if value == self.state:
            if _TASK_LOG.isEnabledFor(logging.DEBUG):
                super()._set_state(value)
        elif _TASK_LOG.isEnabledFor(logging.INFO):
            super()._set_state(value)
        else:
            self.last_state_change = time.time()
            self._state = value


_MAX_DEPTH = 1000
"""How deep below its first task SpiffWorkflow's task iterator looks (its ``max_depth``)."""


def _named_below(first: Task, spec_name: str) -> list[Task]:
    """What ``get_tasks(first, spec_name=...)`` returns: the tasks of that spec in ``first``'s
    subtree, sub-processes included, depth first, as deep as the iterator looks."""
    found = []
    subprocesses = first.workflow.top_workflow.subprocesses
    pending = [(first, 0)]
    while pending:
        task, depth = pending.pop()
        if task.task_spec.name == spec_name:
            found.append(task)
        if depth < _MAX_DEPTH and (task._children or subprocesses):
            below = task.children
            subprocess = subprocesses.get(task.id) if subprocesses else None
            if subprocess is not None:
                below.insert(0, subprocess.task_tree)
            depth += 1
            pending.extend([(child, depth) for child in reversed(below)])
    return found


class RetailEndJoin(_EndJoin):
    """The join that ends a process, its threshold found without a walk of the whole tree."""

    def _check_threshold_unstructured(self, my_task: Task) -> bool:
        """``_EndJoin``'s answer: whether its walk from the root (which stops below tasks of
        this spec, and at the iterator's depth) meets no unfinished task but ``my_task``."""
        workflow = my_task.workflow
        for task in workflow.tasks.values():
            if (
                task is not my_task
                and task._state & TaskState.NOT_FINISHED_MASK
                and _walked_to(task, self.name, workflow)
            ):
                return False
        return True


def _walked_to(task: Task, end_at: str, workflow: Any) -> bool:
    """Whether a walk of ``workflow``'s tree from its root that does not descend below tasks
    of spec ``end_at`` reaches ``task``."""
    tasks = workflow.tasks
    depth = 0
    top = task
    parent = tasks.get(task._parent)
    while parent is not None:
        depth += 1
        if parent.task_spec.name == end_at or depth > _MAX_DEPTH:
            return False
        top = parent
        parent = tasks.get(parent._parent)
    return top is workflow.task_tree


def use_retail_end_joins(spec: Any) -> None:
    """Make the join that ends ``spec``'s process a ``RetailEndJoin`` (``BpmnProcessSpec``
    creates an ``_EndJoin`` itself; the state stores task specs by name, so nothing else
    changes)."""
    if spec is not None and type(spec.end) is _EndJoin:
        spec.end.__class__ = RetailEndJoin


class _Planted(NamedTuple):
    """One task of a freshly planted tree: its spec, its parent's position in the tree's
    creation order (-1 for the root), and its predicted state."""

    spec: TaskSpec
    parent: int
    state: int


_PLANTED: WeakKeyDictionary[Any, tuple[_Planted, ...] | None] = WeakKeyDictionary()
"""The planted tree of each (sub)process spec, in creation order; None for a spec whose tree
cannot be copied (see ``_shape``)."""


def _shape(workflow: Any) -> tuple[_Planted, ...] | None:
    """The shape of ``workflow``'s just-planted tree, or None when a copy of it would not be
    the tree SpiffWorkflow plants: a task with data, internal data, a trigger or a thread of its
    own, or children out of creation order."""
    order = {task_id: index for index, task_id in enumerate(workflow.tasks)}
    root = workflow.task_tree
    shape = []
    for task in workflow.tasks.values():
        if (
            task.data
            or task.internal_data
            or task.triggered
            or task.thread_id != root.thread_id
            or [order[child] for child in task._children]
            != sorted(order[c] for c in task._children)
        ):
            return None
        parent = -1 if task._parent is None else order[task._parent]
        shape.append(_Planted(task.task_spec, parent, task._state))
    return (
        tuple(shape)
        if shape and shape[0].parent == -1 and shape[0].spec is root.task_spec
        else None
    )


class _CheapStepping:
    """The overrides shared by the process and its sub-workflows."""

    spec: Any
    tasks: dict[Any, Any]
    task_tree: Task

    def _plant_task_tree(self) -> None:
        """What ``Workflow.__init__`` does for a new (not restored) workflow, with a
        ``RetailTask`` as the root, so every task under it is one too; the predicted tree
        copied from the spec's first instance when it can be (see the module's doc)."""
        quiet = not _TASK_LOG.isEnabledFor(logging.DEBUG)
        shape = _PLANTED.get(self.spec) if quiet else None
        if shape is not None:
            self._copy(shape)
        else:
            self.task_tree = RetailTask(self, self.spec.start, state=TaskState.FUTURE)
            self.task_tree.task_spec._predict(self.task_tree, mask=TaskState.NOT_FINISHED_MASK)
            if quiet and self.spec not in _PLANTED:
                _PLANTED[self.spec] = _shape(self)
        if _WORKFLOW_LOG.isEnabledFor(logging.INFO):
            _WORKFLOW_LOG.info("Initialized workflow", extra=self.collect_log_extras())
        self.task_tree._ready()

    def _copy(self, shape: tuple[_Planted, ...]) -> None:
        """The tree ``shape`` describes, made as ``Task.__init__`` and ``_add_child`` make each
        task, in the same order."""
        made: list[RetailTask] = []
        for spec, parent, state in shape:
            made.append(_new_task(self, spec, None if parent < 0 else made[parent], state))
        self.task_tree = made[0]

    def get_tasks(self, first_task: Task | None = None, **kwargs: Any) -> list[Task]:
        """``Workflow.get_tasks``; a search by spec name alone walks the tree directly."""
        if kwargs.keys() == {"spec_name"}:
            return _named_below(first_task or self.task_tree, kwargs["spec_name"])
        tasks: list[Task] = super().get_tasks(first_task, **kwargs)  # type: ignore[misc]
        return tasks

    def update_waiting_tasks(self) -> None:
        """SpiffWorkflow's walk, only when some task of this workflow waits."""
        if any_in(self.tasks.values(), TaskState.WAITING):
            super().update_waiting_tasks()  # type: ignore[misc]

    def collect_log_extras(self, dct: dict[str, Any] | None = None) -> dict[str, Any]:
        """The log extras, built only when the logger writes the record that takes them."""
        if not _WORKFLOW_LOG.isEnabledFor(logging.INFO):
            return {}
        extras: dict[str, Any] = super().collect_log_extras(dct)  # type: ignore[misc]
        return extras


class RetailSubWorkflow(_CheapStepping, BpmnSubWorkflow):
    """A sub-process's or call activity's workflow."""

    def __init__(
        self, spec: Any, parent_task_id: Any, top_workflow: Any, deserializing: bool = False
    ) -> None:
        super().__init__(spec, parent_task_id, top_workflow, deserializing=True)
        if not deserializing:
            self._plant_task_tree()


class RetailWorkflow(_CheapStepping, BpmnWorkflow):
    """An instance's workflow."""

    def __init__(
        self,
        spec: Any,
        subprocess_specs: dict[str, Any] | None = None,
        script_engine: Any = None,
        deserializing: bool = False,
    ) -> None:
        super().__init__(spec, subprocess_specs, script_engine, deserializing=True)
        if not deserializing:
            self._plant_task_tree()

    def create_subprocess(self, my_task: Any, spec_name: str) -> RetailSubWorkflow:
        """``BpmnWorkflow.create_subprocess``, with the tuned class."""
        subprocess = RetailSubWorkflow(
            self.subprocess_specs[spec_name], parent_task_id=my_task.id, top_workflow=self
        )
        self.subprocesses[my_task.id] = subprocess
        return subprocess
