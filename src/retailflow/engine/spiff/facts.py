"""What the runtime asks of a task spec on every step, worked out once per spec.

After each step ``ProcessRun`` looks at every open task (is it drawn on the diagram, a job, a
catch, a user task?) and records each completed one under its process and element type. The
answers depend on the spec alone, so they are computed the first time a task of a spec is seen
and kept with the compiled process (``CompiledProcess.spec_facts``): a dictionary lookup per
task instead of the class checks, attribute probes and key building of every scan.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, ServiceTask
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import CodeEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.task import Task

from retailflow.bpmn.extensions import ElementConfig, expression_language
from retailflow.engine.spiff.compiler import CompiledProcess
from retailflow.engine.spiff.specs import is_visible


class SpecFacts:
    """One task spec's answers to the runtime's per-step questions: whether it is drawn on the
    diagram (``visible``: SpiffWorkflow adds internal tasks of its own), its element id, the
    BPMN process it belongs to (``scope``, see ``CompiledProcess.scopes``) and element type,
    its kind (service task, catching event, boundary event, user task), whether it throws an
    error or escalation (``code_event``: it may start an interrupting event subprocess), and
    a service task's job ``(type, retries)`` when neither is an expression (``static_job``;
    an expression is evaluated per job)."""

    __slots__ = (
        "boundary",
        "catching",
        "code_event",
        "element_id",
        "element_type",
        "manual",
        "scope",
        "service",
        "static_job",
        "visible",
    )

    def __init__(self, compiled: CompiledProcess, task: Task) -> None:
        spec = task.task_spec
        self.visible = is_visible(spec)
        self.element_id: str = spec.bpmn_id if self.visible else ""
        self.scope = compiled.scope(task.workflow.spec.name)
        self.element_type = compiled.element_types.get((self.scope, self.element_id), "task")
        self.service = isinstance(spec, ServiceTask)
        self.catching = isinstance(spec, CatchingEvent)
        self.boundary = isinstance(spec, BoundaryEvent)
        self.manual: bool = bool(spec.manual)
        self.code_event = isinstance(getattr(spec, "event_definition", None), CodeEventDefinition)
        self.static_job = _static_job(spec) if self.service else None


def facts_of(compiled: CompiledProcess, task: Task) -> SpecFacts:
    """The facts of ``task``'s spec, learnt on first sight."""
    facts: SpecFacts | None = compiled.spec_facts.get(task.task_spec)
    if facts is None:
        facts = compiled.spec_facts[task.task_spec] = SpecFacts(compiled, task)
    return facts


def _static_job(spec: Any) -> tuple[str, int | None] | None:
    """The job type (a Camunda 7 delegate's name when it has none) and retries of a service
    task, or None when either is an expression, known only when its job is created."""
    config = spec.extensions
    if not isinstance(config, ElementConfig):
        return None
    topic = config.job_type or ""
    if expression_language(topic) is not None or config.retries_expression:
        return None
    return job_topic(config, topic), config.retries


def job_topic(config: ElementConfig, job_type: str) -> str:
    """A job's topic: its (evaluated) job type, or the name of the Camunda 7 delegate that an
    asyncBefore/asyncAfter put behind a job when the task has no job type."""
    if not config.job_type and config.java_delegate is not None:
        return config.java_delegate[1]
    return job_type
