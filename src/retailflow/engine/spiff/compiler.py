"""Turn parsed BPMN documents into SpiffWorkflow specs, or into findings when they cannot be.

A deployment compiles every executable process up front, so a file SpiffWorkflow would only
refuse at run time is refused at deploy time, with the file, line and element id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask, StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.exceptions import SpiffWorkflowException

from retailflow.bpmn.extensions import (
    Dialect,
    ElementConfig,
    expression_language,
    read_element_config,
)
from retailflow.bpmn.listeners import Listener
from retailflow.bpmn.namespaces import bpmn_tag
from retailflow.engine.spiff.callouts import connect_end_listeners
from retailflow.engine.spiff.deep_stack import with_deep_stack
from retailflow.engine.spiff.parser import RetailBpmnParser, ValidationException
from retailflow.engine.spiff.specs import (
    ClockTimerEventDefinition,
    DecisionTask,
    KeyedMessageEventDefinition,
)
from retailflow.engine.spiff.workflow import use_retail_end_joins
from retailflow.model import DeploymentError, Finding, Severity

_PROCESS = bpmn_tag("process")
# Elements whose contents SpiffWorkflow runs as a spec of their own, named by the element's id.
_SUBPROCESS_TAGS = frozenset({"subProcess", "transaction", "adHocSubProcess"})


_DEEP_SPEC_SIZE = 250
"""Task specs in one (sub)process beyond which its instances run on a deep stack: a path of
that many elements keeps well inside the default recursion limit of 1,000 frames."""


@dataclass(frozen=True, slots=True)
class SourceTree:
    """One parsed BPMN file, as the seam receives it."""

    name: str
    root: etree._Element


@dataclass(slots=True)
class CompiledProcess:
    """A process ready to run: its spec, the specs of what it calls, and where each element
    is drawn (``locations``: element id -> (file, line)).

    Element ids are unique within a BPMN process, not across the files a process calls (Modeler
    names every first start event ``StartEvent_1``), so what the history needs is kept per
    process: ``element_types`` maps ``(process id, element id)`` to the BPMN tag, and
    ``sequence_flows`` maps ``(process id, source id, target id)`` to the id of the sequence
    flow drawn between them (SpiffWorkflow keeps no sequence flows at run time, only which
    element follows which). ``scopes`` names the process each spec belongs to: a process's
    own, a called process's, and an embedded or event subprocess's enclosing process.
    ``process_listeners`` are the execution listeners written on ``bpmn:process`` elements,
    by process id, and ``flow_listeners`` the take listeners of sequence flows, by ``(process
    id, flow id)`` (SpiffWorkflow keeps neither processes' extensions nor flows)."""

    process_id: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    element_types: dict[tuple[str, str], str] = field(default_factory=dict)
    locations: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    sequence_flows: dict[tuple[str, str, str], str] = field(default_factory=dict)
    scopes: dict[str, str] = field(default_factory=dict)
    process_listeners: dict[str, tuple[Listener, ...]] = field(default_factory=dict)
    flow_listeners: dict[tuple[str, str], tuple[Listener, ...]] = field(default_factory=dict)
    calls_out: bool = field(init=False, default=False)
    """Whether any element has a Camunda 7 delegate or a listener: the runtime looks for
    them only then, keeping their scans off the hot path of every other process."""

    deep: bool = field(init=False, default=False)
    """Whether a (sub)process has so many elements that SpiffWorkflow's recursive walks along
    its paths may need more stack than Python's default (see ``deep_stack``)."""

    event_subprocesses: bool = field(init=False, default=False)
    """Whether any (sub)process of this one has an event subprocess."""

    spec_facts: dict[Any, Any] = field(init=False, default_factory=dict, repr=False)
    """What the runtime asks of each task spec on every step, learnt on first sight (see
    ``facts``)."""

    def __post_init__(self) -> None:
        self.calls_out = bool(self.flow_listeners) or any(
            config.java_delegate is not None or config.listeners
            for _, config in self.element_configs()
        )
        self.deep = any(
            len(spec.task_specs) > _DEEP_SPEC_SIZE
            for spec in (self.spec, *self.subprocess_specs.values())
            if spec is not None
        )
        self.event_subprocesses = any(
            getattr(spec.start, "trigger_specs", None)
            for spec in (self.spec, *self.subprocess_specs.values())
            if spec is not None
        )

    def scope(self, spec_name: str) -> str:
        """The BPMN process id of the elements of the spec named ``spec_name``."""
        return self.scopes.get(spec_name, self.process_id)

    def _task_specs(self) -> Iterator[Any]:
        for spec in (self.spec, *self.subprocess_specs.values()):
            if spec is not None:
                yield from spec.task_specs.values()

    def job_topics(self) -> list[tuple[str, str]]:
        """``(element_id, topic)`` of every job (service-like tasks, message throw and end
        events with a job type), called processes included. A job type written as an
        expression is known only when its job is created, so it is left out, and a Camunda 7
        delegate has none (see ``element_configs``)."""
        return [
            (spec.bpmn_id, spec.extensions.job_type)
            for spec in self._task_specs()
            if isinstance(spec, ServiceTask)
            and spec.extensions.job_type
            and expression_language(spec.extensions.job_type) is None
        ]

    def element_configs(self) -> list[tuple[str, ElementConfig]]:
        """``(element_id, config)`` of every element drawn, and of the process and the
        processes it calls (their listeners): what a delegate or listener calls is checked
        against the handlers at deployment."""
        configs = [
            (spec.bpmn_id, spec.extensions)
            for spec in self._task_specs()
            if isinstance(getattr(spec, "extensions", None), ElementConfig)
        ]
        for process_id in (self.process_id, *self.subprocess_specs):
            listeners = self.process_listeners.get(process_id)
            if listeners:
                configs.append((process_id, ElementConfig(Dialect.PLAIN, listeners=listeners)))
        for (_, flow), listeners in self.flow_listeners.items():
            configs.append((flow, ElementConfig(Dialect.PLAIN, listeners=listeners)))
        return configs

    def decision_ids(self) -> set[str]:
        """Decisions called by business rule tasks, called processes included."""
        return {spec.decision_id for spec in self._task_specs() if isinstance(spec, DecisionTask)}

    def called_process_ids(self) -> set[str]:
        """Processes this one calls (embedded subprocesses are listed too; they share its
        file)."""
        return set(self.subprocess_specs)

    def message_names(self) -> set[str]:
        """Names of every message this process (or what it calls) can catch."""
        names = set()
        for spec in self._task_specs():
            definition = getattr(spec, "event_definition", None)
            for item in getattr(definition, "event_definitions", None) or [definition]:
                if isinstance(item, KeyedMessageEventDefinition):
                    names.add(item.name)
        return names

    def timer_starts(self) -> list[tuple[str, ClockTimerEventDefinition]]:
        """``(element_id, timer)`` of the process's timer start events, which the engine
        schedules itself, as Camunda does."""
        return [
            (spec.bpmn_id, spec.event_definition)
            for spec in self.spec.task_specs.values()
            if isinstance(spec, StartEvent)
            and isinstance(spec.event_definition, ClockTimerEventDefinition)
        ]

    def start_events(self, kind: str) -> list[tuple[str, str]]:
        """``(element_id, name)`` of top-level start events catching ``kind`` ("message",
        "signal" or "timer")."""
        wanted = {
            "message": KeyedMessageEventDefinition,
            "signal": SignalEventDefinition,
            "timer": ClockTimerEventDefinition,
        }[kind]
        return [
            (spec.bpmn_id, spec.event_definition.name)
            for spec in self.spec.task_specs.values()
            if isinstance(spec, StartEvent) and isinstance(spec.event_definition, wanted)
        ]


def compile_processes(
    sources: Sequence[SourceTree], process_ids: Sequence[str]
) -> dict[str, CompiledProcess]:
    """Compile the given processes (and what they call); ``DeploymentError`` lists every
    process that failed, each with file, line and element id."""
    # SpiffWorkflow's parser recurses along every path of the diagram.
    return with_deep_stack(lambda: _compile_processes(sources, process_ids))


def _compile_processes(
    sources: Sequence[SourceTree], process_ids: Sequence[str]
) -> dict[str, CompiledProcess]:
    parser = RetailBpmnParser()
    findings: list[Finding] = []
    lines: dict[str, tuple[str, int | None]] = {}
    element_types: dict[tuple[str, str], str] = {}
    flows: dict[tuple[str, str, str], str] = {}
    scopes: dict[str, str] = {}
    process_listeners: dict[str, tuple[Listener, ...]] = {}
    flow_listeners: dict[tuple[str, str], tuple[Listener, ...]] = {}
    for source in sources:
        for element in source.root.iter():
            element_id = element.get("id") if isinstance(element.tag, str) else None
            if element_id is not None:
                lines.setdefault(element_id, (source.name, _line(element)))
        for process in source.root.iter(_PROCESS):
            scope = process.get("id", "")
            scopes[scope] = scope
            listeners = read_element_config(process).listeners
            if listeners:
                process_listeners[scope] = listeners
            for element in process.iter():
                element_id = element.get("id") if isinstance(element.tag, str) else None
                if element_id is None:
                    continue
                tag = etree.QName(element).localname
                element_types[(scope, element_id)] = tag
                if tag in _SUBPROCESS_TAGS:
                    scopes[element_id] = scope
                elif tag == "sequenceFlow":
                    # Two flows drawn between the same pair cannot be told apart at run time;
                    # the first one drawn is the one recorded.
                    flows.setdefault(
                        (scope, element.get("sourceRef", ""), element.get("targetRef", "")),
                        element_id,
                    )
                    listeners = read_element_config(element).listeners
                    if listeners:
                        flow_listeners[(scope, element_id)] = listeners
        try:
            parser.add_bpmn_xml(source.root, filename=source.name)
        except (SpiffWorkflowException, NotImplementedError) as error:
            findings.append(_finding(error, source.name, lines))
    compiled: dict[str, CompiledProcess] = {}
    for process_id in process_ids:
        try:
            spec = parser.get_spec(process_id)
            subprocess_specs = parser.get_subprocess_specs(process_id)
        except (SpiffWorkflowException, NotImplementedError, KeyError) as error:
            file, _ = lines.get(process_id, (None, None))
            findings.append(_finding(error, file, lines))
            continue
        for each in (spec, *subprocess_specs.values()):
            _link_loop_children(each)
            _connect_triggered_event_subprocesses(each)
            connect_end_listeners(each)
            use_retail_end_joins(each)
        compiled[process_id] = CompiledProcess(
            process_id,
            spec,
            subprocess_specs,
            element_types,
            lines,
            flows,
            scopes,
            process_listeners,
            _own(flow_listeners, process_id, subprocess_specs),
        )
    if findings:
        raise DeploymentError(findings)
    return compiled


def _own(
    flow_listeners: dict[tuple[str, str], tuple[Listener, ...]],
    process_id: str,
    subprocess_specs: dict[str, BpmnProcessSpec],
) -> dict[tuple[str, str], tuple[Listener, ...]]:
    """The take listeners of the flows of a process and of the processes it calls."""
    scopes = {process_id, *subprocess_specs}
    return {key: listeners for key, listeners in flow_listeners.items() if key[0] in scopes}


def _link_loop_children(spec: BpmnProcessSpec | None) -> None:
    """A multi-instance task merges each finished child through a completion signal that
    SpiffWorkflow connects when it creates the child, or when its own spec loader runs. A spec
    compiled here must be connected too, or an instance restored in another engine (after a
    restart) never merges its children back and waits forever."""
    if spec is None:
        return
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, LoopTask):
            child = spec.task_specs[task_spec.task_spec]
            if not child.completed_event.is_connected(task_spec.merge_child):
                child.completed_event.connect(task_spec.merge_child)


def _connect_triggered_event_subprocesses(spec: BpmnProcessSpec | None) -> None:
    """An event subprocess started by a message, signal, error or escalation is connected to
    its process's start and end by SpiffWorkflow only when first triggered, and in the spec
    object. An instance restored in another engine would find it unconnected and fail when it
    completes ("No input task connected"). Connected here as that first trigger would, except
    that the start does not list it as an output (which would start it with every instance)."""
    if spec is None:
        return
    for name in getattr(spec.start, "trigger_specs", ()):
        task_spec = spec.task_specs[name]
        if spec.start not in task_spec.inputs:
            task_spec.inputs = [*task_spec.inputs, spec.start]
        if spec.end not in task_spec.outputs:
            task_spec.connect(spec.end)


def _finding(
    error: Exception, file: str | None, lines: dict[str, tuple[str, int | None]]
) -> Finding:
    """A SpiffWorkflow parse error as a finding that points at the element."""
    element_id = getattr(error, "id", None) or None
    file_name, line = lines.get(element_id or "", (file, None))
    if isinstance(error, ValidationException) and error.file_name:
        file_name = error.file_name
    message = str(error.args[0]) if error.args else str(error)
    if isinstance(error, NotImplementedError):
        message = "SpiffWorkflow cannot run this element"
    return Finding(
        Severity.ERROR,
        "engine-refused",
        message,
        file=file_name,
        line=line,
        element_id=element_id,
        hint="Change the element in Modeler; retailflow cannot run it as drawn",
    )


def _line(element: etree._Element) -> int | None:
    """The element's line, as lxml knows it (never for elements built in memory)."""
    line = element.sourceline
    return line if isinstance(line, int) else None
