"""SpiffWorkflow's workflow and task classes with three costs of every step taken off, same
behaviour.

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

``RetailWorkflow`` is what ``ProcessRun`` starts and what ``StateCodec`` restores; its
sub-processes and call activities are ``RetailSubWorkflow``, and every task is a
``RetailTask``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

_WORKFLOW_LOG = logging.getLogger("spiff.workflow")
"""The logger SpiffWorkflow writes a workflow's start, completion and cancellation to (INFO)."""
_TASK_LOG = logging.getLogger("spiff.task")
"""The logger SpiffWorkflow writes a task's state changes to (INFO; DEBUG when unchanged)."""


class RetailTask(Task):
    """A task whose state changes build their log record only when ``spiff.task`` writes it."""

    def _add_child(self, task_spec: TaskSpec, state: int = TaskState.MAYBE) -> Task:
        """``Task._add_child``, the child a ``RetailTask`` too."""
        if self.has_state(TaskState.PREDICTED_MASK) and state & TaskState.PREDICTED_MASK == 0:
            raise WorkflowException(
                "Attempt to add non-predicted child to predicted task", task_spec=self.task_spec
            )
        task = RetailTask(self.workflow, task_spec, self, state=state)
        task.thread_id = self.thread_id
        if state == TaskState.READY:
            task._ready()
        return task

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


class _CheapStepping:
    """The overrides shared by the process and its sub-workflows."""

    spec: Any
    tasks: dict[Any, Any]
    task_tree: Task

    def _plant_task_tree(self) -> None:
        """What ``Workflow.__init__`` does for a new (not restored) workflow, with a
        ``RetailTask`` as the root, so every task under it is one too."""
        self.task_tree = RetailTask(self, self.spec.start, state=TaskState.FUTURE)
        self.task_tree.task_spec._predict(self.task_tree, mask=TaskState.NOT_FINISHED_MASK)
        if _WORKFLOW_LOG.isEnabledFor(logging.INFO):
            _WORKFLOW_LOG.info("Initialized workflow", extra=self.collect_log_extras())
        self.task_tree._ready()

    def update_waiting_tasks(self) -> None:
        """SpiffWorkflow's walk, only when some task of this workflow waits."""
        waiting = TaskState.WAITING
        if any(task._state & waiting for task in self.tasks.values()):
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
