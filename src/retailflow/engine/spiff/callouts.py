"""Calls from a running instance into the application's code: Camunda 7 delegates and the
execution and task listeners of both dialects.

SpiffWorkflow knows none of them. The engine supplies a ``CalloutRunner`` that finds and
invokes the registered Python handler (the seam never sees the registry); script listeners run
here, in the expression sandbox. Start and task listeners are fired by the runtime, which sees
every element before it runs or starts waiting. End listeners must run before the element's
successors inherit its variables, which happens inside SpiffWorkflow's completion, so they are
connected to each spec's completion event at compile time and find the run that is advancing
through a context variable (``Callouts.active``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retailflow.bpmn.extensions import Dialect as FileDialect
from retailflow.bpmn.extensions import ElementConfig
from retailflow.bpmn.listeners import Listener
from retailflow.engine.spiff.specs import KeyedMessageEventDefinition
from retailflow.expressions import Dialect, ExpressionEngine
from retailflow.model import BpmnError, CalloutError, RetailflowError

if TYPE_CHECKING:
    from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
    from SpiffWorkflow.task import Task


@dataclass(frozen=True, slots=True)
class Callout:
    """One call into the application: an element's delegate (``event`` is None) or one of its
    listeners (``event`` says which). ``delegate`` is the Camunda 7 ``(attribute, value)``,
    ``job_type`` a Camunda 8 listener's type; ``variables`` are the element's as it stands."""

    element_id: str
    task_id: str
    config: ElementConfig
    variables: dict[str, Any]
    delegate: tuple[str, str] | None = None
    job_type: str | None = None
    event: str | None = None


CalloutRunner = Callable[[Callout], dict[str, Any]]
"""Runs the handler a callout names and returns the variables it writes; raises ``BpmnError``
for a delegate that takes a modelled error path, any other exception when it failed."""

ListenerRecorder = Callable[["Task", Listener, dict[str, Any], "str | None"], None]
"""Takes a listener invocation into the instance's history (with the flow's id for a take
listener)."""

_ACTIVE: ContextVar[Callouts | None] = ContextVar("retailflow_callouts", default=None)
STARTED = "rf_started"
"""Internal-data key: the element's start (and task create) listeners have run."""


class Callouts:
    """One run's way into the application's code, and the record of what it called."""

    def __init__(
        self,
        runner: CalloutRunner | None,
        expressions: ExpressionEngine,
        record: ListenerRecorder,
        process_listeners: Mapping[str, tuple[Listener, ...]],
    ) -> None:
        self._runner = runner
        self._expressions = expressions
        self._record = record
        self._process_listeners = process_listeners
        self._tokens: list[Token[Callouts | None]] = []

    def active(self) -> Callouts:
        """Make this run the one whose end listeners fire while SpiffWorkflow completes
        elements (``with callouts.active(): ...``; a class-based context manager, as it is
        entered several times in every step)."""
        return self

    def __enter__(self) -> None:
        self._tokens.append(_ACTIVE.set(self))

    def __exit__(self, *exc_info: object) -> None:
        _ACTIVE.reset(self._tokens.pop())

    def before_run(self, task: Task) -> None:
        """Before a task runs: the start listeners of its element, or of its process when
        the task is the process's own start, or its end when the task is the join that ends
        it (it copies the variables out, so end listeners run first and are seen)."""
        workflow_spec = task.workflow.spec
        if task.task_spec is workflow_spec.start:
            self._fire_process(task, "start")
        elif task.task_spec is workflow_spec.end:
            self._fire_process(task, "end")
        else:
            self.start(task)

    def _fire_process(self, task: Task, event: str) -> None:
        process_id = task.workflow.spec.name
        for listener in self._process_listeners.get(process_id, ()):
            if listener.kind == "execution" and listener.event == event:
                updates = self._listen(task, listener, process_id)
                task.data.update(updates)
                self._record(task, listener, updates, None)

    def delegate(self, task: Task) -> dict[str, Any]:
        """Run the element's Camunda 7 delegate; the variables it writes."""
        config = _config(task)
        return self._call(
            Callout(
                task.task_spec.bpmn_id,
                str(task.id),
                config,
                dict(task.data),
                delegate=config.java_delegate,
            )
        )

    def start(self, task: Task) -> None:
        """Fire the element's start listeners (for a user task, then its assignment and create
        task listeners), once."""
        config = _config(task)
        if not config.listeners or task.internal_data.get(STARTED):
            return
        task.internal_data[STARTED] = True
        self.fire(task, "execution", "start")
        if task.task_spec.manual:
            # Camunda 7 fires assignment before create, so that create sees the assignee;
            # Camunda 8 creates first.
            order = (
                ["assignment", "create"]
                if config.dialect is FileDialect.CAMUNDA7
                else ["create", "assignment"]
            )
            for event in order:
                if event != "assignment" or config.assignee:
                    self.fire(task, "task", event)

    def fire(self, task: Task, kind: str, event: str) -> None:
        """Call the element's ``kind`` listeners of ``event`` in the order written; each sees
        what the ones before it wrote."""
        for listener in _config(task).listeners:
            if listener.kind == kind and listener.event == event:
                updates = self._listen(task, listener, task.task_spec.bpmn_id)
                task.data.update(updates)
                self._record(task, listener, updates, None)

    def take(self, task: Task, flow: str, listener: Listener) -> None:
        """Call a take listener of ``flow``, which led to ``task``: the token it carries is
        ``task``'s variables."""
        updates = self._listen(task, listener, flow)
        task.data.update(updates)
        self._record(task, listener, updates, flow)

    def _listen(self, task: Task, listener: Listener, element_id: str) -> dict[str, Any]:
        if listener.script is not None:
            dialect = (
                Dialect.FEEL
                if (listener.script_format or "").strip().lower() == "feel"
                else Dialect.PYTHON
            )
            return self._expressions.run_script(
                listener.script, dict(task.data), dialect=dialect, element_id=element_id
            )
        return self._call(
            Callout(
                element_id,
                str(task.id),
                _config(task),
                dict(task.data),
                delegate=listener.delegate,
                job_type=listener.job_type,
                event=listener.event,
            )
        )

    def _call(self, callout: Callout) -> dict[str, Any]:
        if self._runner is None:
            raise RetailflowError(
                f"element '{callout.element_id}' calls a handler, but this "
                "run has no handlers bound"
            )
        return self._runner(callout)


def active_callouts(element_id: str) -> Callouts:
    """The callouts of the run that is advancing now."""
    callouts = _ACTIVE.get()
    if callouts is None:
        raise RetailflowError(
            f"element '{element_id}' calls a handler outside a step of its instance"
        )
    return callouts


def connect_end_listeners(spec: BpmnProcessSpec | None) -> None:
    """Connect the end listeners of every element of ``spec`` to its completion, so they run
    before the next element inherits the variables. Done once per compiled spec."""
    if spec is None:
        return
    for task_spec in spec.task_specs.values():
        config = getattr(task_spec, "extensions", None)
        if (
            isinstance(config, ElementConfig)
            and any(
                listener.kind == "execution" and listener.event == "end"
                for listener in config.listeners
            )
            and not task_spec.completed_event.is_connected(_fire_end)
        ):
            task_spec.completed_event.connect(_fire_end)


def _fire_end(workflow: Any, task: Task) -> None:
    active_callouts(task.task_spec.bpmn_id).fire(task, "execution", "end")


def _config(task: Task) -> ElementConfig:
    config = getattr(task.task_spec, "extensions", None)
    return config if isinstance(config, ElementConfig) else ElementConfig(FileDialect.PLAIN)


class DelegateMessageEventDefinition(KeyedMessageEventDefinition):
    """A Camunda 7 message throw (intermediate or end) implemented by a delegate: throwing it
    runs the delegate's handler in the step, as Camunda 7 does, and sends no message."""

    def throw(self, my_task: Task) -> None:
        element_id = my_task.task_spec.bpmn_id
        try:
            my_task.data.update(active_callouts(element_id).delegate(my_task))
        except BpmnError as error:
            raise CalloutError(
                f"the delegate of message event '{element_id}' threw BPMN error "
                f"'{error.code}', which a throw event cannot route; throw it "
                "from a service task with an error boundary event",
                element_id=element_id,
            ) from error
