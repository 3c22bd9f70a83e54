"""SpiffWorkflow's parser, taught both Camunda Modeler dialects.

Every flow node's extension elements are read once by ``retailflow.bpmn.extensions`` into a
dialect-neutral ``ElementConfig`` and attached to its task spec as ``extensions``. The overrides
below only change what SpiffWorkflow gets wrong for Modeler files: service, send and business
rule tasks, message throw and end events with a job type, script tasks written as
``zeebe:script``, ``zeebe:calledElement``,
``zeebe:loopCharacteristics``, timers (evaluated against the engine's clock) and messages
(correlated by a key expression).
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, full_tag
from SpiffWorkflow.bpmn.parser.event_parsers import (
    CANCEL_EVENT_XPATH,
    CONDITIONAL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TERMINATION_EVENT_XPATH,
    TIMER_EVENT_XPATH,
    BoundaryEventParser,
    EndEventParser,
    EventBasedGatewayParser,
    IntermediateCatchEventParser,
    IntermediateThrowEventParser,
    ReceiveTaskParser,
    SendTaskParser,
    StartEventParser,
)
from SpiffWorkflow.bpmn.parser.ProcessParser import ProcessParser
from SpiffWorkflow.bpmn.parser.task_parsers import (
    CallActivityParser,
    ConditionalGatewayParser,
    GatewayParser,
    ScriptTaskParser,
    SubprocessParser,
    SubWorkflowParser,
)
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    EndEvent,
    EventBasedGateway,
    ExclusiveGateway,
    InclusiveGateway,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    ParallelGateway,
    ReceiveTask,
    SendTask,
    ServiceTask,
    StartEvent,
    SubWorkflowTask,
    TransactionSubprocess,
    UserTask,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition

from retailflow.bpmn.extensions import (
    Dialect,
    ElementConfig,
    document_dialect,
    read_element_config,
    read_message_correlation,
)
from retailflow.bpmn.languages import UnsupportedLanguage, as_marked, written_in
from retailflow.bpmn.namespaces import BPMN, CAMUNDA, ZEEBE
from retailflow.engine.spiff.callouts import DelegateMessageEventDefinition
from retailflow.engine.spiff.specs import (
    OUTPUT_ELEMENT,
    ClockTimerEventDefinition,
    CompensationEndEvent,
    CompensationThrowEvent,
    ComputedEscalationEventDefinition,
    DecisionTask,
    EvaluatedCollection,
    KeyedMessageEventDefinition,
    LocalParallelMultiInstance,
    LocalSequentialMultiInstance,
    MappedCallActivity,
    PassThroughTask,
    SandboxScriptTask,
    resume_compensation_throw,
)

_NS = {"bpmn": BPMN, "zeebe": ZEEBE}
_THROWS = frozenset({full_tag("intermediateThrowEvent"), full_tag("endEvent")})


class _ConfiguredParser(TaskParser):
    """Attaches the element's ``ElementConfig`` and reads Camunda 8 multi-instance settings."""

    PARALLEL_MI_CLASS = LocalParallelMultiInstance
    SEQUENTIAL_MI_CLASS = LocalSequentialMultiInstance
    task: Any
    """The task spec being built (SpiffWorkflow's ``TaskParser`` sets it)."""

    def parse_extensions(self, node: Any = None) -> ElementConfig:
        return read_element_config(self.node if node is None else node)

    @property
    def config(self) -> ElementConfig:
        return read_element_config(self.node)

    @property
    def calls_delegate(self) -> bool:
        """A Camunda 7 delegate (class, delegate expression or expression) implements it: it
        runs the handler bound to that name, synchronously unless ``asyncBefore``."""
        delegate = self.config.java_delegate
        return delegate is not None and delegate[0] != "connector"

    def parse_condition(self, sequence_flow: Any) -> str | None:
        condition = sequence_flow.find("bpmn:conditionExpression", _NS)
        return None if condition is None else _marked_text(condition, self)

    # Camunda runs data objects and data stores "for modeling purposes only": a task drawn
    # writing one must not fail for lack of a variable named after the data object's id, as
    # SpiffWorkflow's associations would. Other files keep SpiffWorkflow's reading.
    def parse_incoming_data_references(self) -> list[Any]:
        if _documents_data_only(self.node):
            return []
        return list(super().parse_incoming_data_references())

    def parse_outgoing_data_references(self) -> list[Any]:
        if _documents_data_only(self.node):
            return []
        return list(super().parse_outgoing_data_references())

    def _add_multiinstance_task(self, loop_characteristics: Any) -> None:
        loop = _collection_loop(loop_characteristics)
        if loop is None:
            super()._add_multiinstance_task(loop_characteristics)
            self.task.condition = _completion_condition(loop_characteristics, self)
            return
        collection = (loop.get("inputCollection") or "").strip()
        if not collection:
            self.raise_validation_exception(
                "A multi-instance loop needs an input collection (zeebe:loopCharacteristics "
                "inputCollection like '=items', camunda:collection like '${items}')"
            )
        output_element = (loop.get("outputElement") or "").strip()
        output_name = _variable_name(output_element)
        original = self.spec.task_specs.pop(self.task.name)
        params = {
            "task_spec": "",
            "cardinality": None,
            "data_input": _collection(collection),
            "data_output": _reference(loop.get("outputCollection")),
            "input_item": _reference(loop.get("inputElement")),
            "output_item": (
                _reference(output_name)
                if output_name or not output_element
                else TaskDataReference(OUTPUT_ELEMENT)
            ),
            "condition": _completion_condition(loop_characteristics, self),
        }
        sequential = loop_characteristics.get("isSequential") == "true"
        cls = self.SEQUENTIAL_MI_CLASS if sequential else self.PARALLEL_MI_CLASS
        label = "Sequential MultiInstance" if sequential else "Parallel MultiInstance"
        self.task = cls(self.spec, original.name, description=label, **params)
        if output_element and not output_name:
            self.task.output_expression = output_element
        self._copy_task_attrs(original, loop_characteristics)


def _collection_loop(loop_characteristics: Any) -> dict[str, str] | None:
    """A loop over a collection, in Camunda 8's attribute names: ``zeebe:loopCharacteristics``,
    or Camunda 7's ``camunda:collection`` (``${items}`` or a variable name) with its
    ``camunda:elementVariable``; None for a loop SpiffWorkflow reads itself (cardinality)."""
    zeebe = loop_characteristics.find("bpmn:extensionElements/zeebe:loopCharacteristics", _NS)
    if zeebe is not None:
        return dict(zeebe.attrib)
    collection = loop_characteristics.get(f"{{{CAMUNDA}}}collection")
    if collection is None:
        return None
    element = loop_characteristics.get(f"{{{CAMUNDA}}}elementVariable")
    return {"inputCollection": collection, **({"inputElement": element} if element else {})}


def _documents_data_only(node: Any) -> bool:
    return document_dialect(node.getroottree().getroot()) in (Dialect.CAMUNDA8, Dialect.CAMUNDA7)


def _reference(name: str | None) -> TaskDataReference | None:
    return TaskDataReference(name) if name else None


def _variable_name(expression: str) -> str | None:
    """The variable an expression only names (``=items`` or ``items``), else None."""
    name = expression.removeprefix("=").strip()
    return name if name.isidentifier() else None


def _collection(expression: str) -> TaskDataReference | EvaluatedCollection:
    """Camunda 8's ``inputCollection``: a variable is read in place (SpiffWorkflow's own
    reference); any other expression (``=order.items``, ``=[1, 2, 3]``) is evaluated."""
    name = _variable_name(expression)
    return TaskDataReference(name) if name else EvaluatedCollection(expression)


def _completion_condition(loop_characteristics: Any, parser: TaskParser) -> str | None:
    condition = loop_characteristics.find("bpmn:completionCondition", _NS)
    return _marked_text(condition, parser) if condition is not None else None


def _marked_text(expression: Any, parser: TaskParser) -> str | None:
    """An expression's text with the prefix of the language the file declares for it
    (``language``, or the definitions' ``expressionLanguage``), so it is evaluated in that
    language whatever the file's default."""
    if expression.text is None:
        return None
    try:
        return as_marked(expression.text, written_in(expression))
    except UnsupportedLanguage as unsupported:
        parser.raise_validation_exception(
            f"The expression is written in '{unsupported.language}', which cannot be evaluated"
        )
        raise AssertionError from unsupported  # unreachable: the line above raises


class _EventParserMixin(_ConfiguredParser):
    """Timers read the engine's clock; messages carry their correlation-key expression."""

    def parse_timer_event(self, event: Any) -> ClockTimerEventDefinition:
        name = self.node.get("name", self.node.get("id"))
        for kind in ("timeDate", "timeDuration", "timeCycle"):
            definition = event.find(f"bpmn:{kind}", _NS)
            if definition is not None:
                text = (definition.text or "").strip()
                if not text:
                    self.raise_validation_exception(f"The timer's {kind} is empty")
                quartz = self.config.dialect is Dialect.CAMUNDA7
                return ClockTimerEventDefinition(
                    name,
                    text,
                    kind,
                    self.bpmn_id,
                    quartz,
                    description=self.get_event_description(event),
                )
        self.raise_validation_exception("A timer needs a timeDate, timeDuration or timeCycle")
        raise AssertionError  # unreachable: the line above raises

    def parse_escalation_event(self, escalation_event: Any) -> Any:
        """A throw whose escalation code is a FEEL expression computes it when reached."""
        definition = super().parse_escalation_event(escalation_event)
        code = definition.code or ""
        if code.strip().startswith("=") and self.node.tag in _THROWS:
            return ComputedEscalationEventDefinition(
                definition.name,
                code.strip(),
                description=self.get_event_description(escalation_event),
            )
        return definition

    def parse_message_event(self, message_event: Any) -> MessageEventDefinition:
        message_ref = message_event.get("messageRef")
        if self.calls_delegate and self.node.tag in _THROWS:
            name = self.process_parser.parser.messages.get(message_ref) or self.bpmn_id
            return DelegateMessageEventDefinition(
                name, None, self.bpmn_id, description=self.get_event_description(message_event)
            )
        if message_ref is None:
            self.raise_validation_exception("A message event needs a messageRef")
        name = self.process_parser.parser.messages.get(message_ref)
        if name is None:
            self.raise_validation_exception(f"The message '{message_ref}' is not defined")
        message = self.doc_xpath(f".//bpmn:message[@id='{message_ref}']")
        key = read_message_correlation(message[0]) if message else None
        return KeyedMessageEventDefinition(
            name, key, self.bpmn_id, description=self.get_event_description(message_event)
        )


class RetailStartEventParser(_EventParserMixin, StartEventParser):
    """Start events; in an event subprocess an error or escalation start is a trigger too
    (SpiffWorkflow drops those, which would start the subprocess at once)."""

    def create_task(self) -> Any:
        event_definition = self.get_event_definition(
            [
                MESSAGE_EVENT_XPATH,
                SIGNAL_EVENT_XPATH,
                TIMER_EVENT_XPATH,
                CONDITIONAL_EVENT_XPATH,
                ERROR_EVENT_XPATH,
                ESCALATION_EVENT_XPATH,
            ]
        )
        task = self._create_task(event_definition)
        task.interrupting = self.node.get("isInterrupting", "true") == "true"
        self.spec.start.connect(task)
        return task


class _JobEventMixin(_EventParserMixin):
    """A message throw or end event with a job type (Camunda 8's ``zeebe:taskDefinition``,
    Camunda 7's external ``camunda:topic``) is a job exactly like a service task: its
    ``messageRef`` is optional and no message is thrown; the handler does the sending."""

    def job_task(self) -> Any | None:
        if self.config.job_type and self.xpath(MESSAGE_EVENT_XPATH):
            return ServiceTask(self.spec, self.bpmn_id, **self.bpmn_attributes)
        return None


class RetailEndEventParser(_JobEventMixin, EndEventParser):
    """End events; a signal end event broadcasts its signal (SpiffWorkflow ignores the
    signal and ends silently)."""

    def create_task(self) -> Any:
        if _compensation(self.node) is not None:
            task = _compensation_throw(self, CompensationEndEvent)
        else:
            task = self.job_task() or self._create_task(
                self.get_event_definition(
                    [
                        MESSAGE_EVENT_XPATH,
                        CANCEL_EVENT_XPATH,
                        ERROR_EVENT_XPATH,
                        ESCALATION_EVENT_XPATH,
                        TERMINATION_EVENT_XPATH,
                        SIGNAL_EVENT_XPATH,
                    ]
                )
            )
        task.connect(self.spec.end)
        return task


def _compensation(node: Any) -> Any:
    return node.find("bpmn:compensateEventDefinition", _NS)


class RetailProcessParser(ProcessParser):
    """Processes and sub-processes with compensation, which SpiffWorkflow does not parse: a
    compensation boundary event is no boundary while its activity runs, and the handler it is
    associated with (``isForCompensation``, reached by no sequence flow) becomes a task spec
    the compensation throw events of the same (sub)process start
    (``spec.compensation_handlers``: activity id -> handler spec name). A process of a Camunda
    file keeps no data objects: they are documentation there, and SpiffWorkflow would add them
    to the process's variables."""

    def _parse(self) -> None:
        super()._parse()
        if _documents_data_only(self.node):
            self.spec.data_objects.clear()

    def get_boundary_events(self, attached_to_ref: str) -> list[Any]:
        return [
            event
            for event in super().get_boundary_events(attached_to_ref)
            if _compensation(event) is None
        ]

    def add_tasks(self) -> None:
        super().add_tasks()
        handlers: dict[str, str] = {}
        throws = [
            spec
            for spec in self.spec.task_specs.values()
            if isinstance(spec, CompensationThrowEvent | CompensationEndEvent)
        ]
        for boundary in self.node.iterfind("bpmn:boundaryEvent", _NS):
            if _compensation(boundary) is None:
                continue
            handler = self._associated_handler(boundary)
            spec = self.parse_node(handler)
            # SpiffWorkflow refuses to ready a task spec with no inputs: the throws lead to it.
            spec.inputs = throws or [self.spec.start]
            spec.completed_event.connect(resume_compensation_throw)
            handlers[boundary.get("attachedToRef", "")] = spec.name
        self.spec.compensation_handlers = handlers

    def _associated_handler(self, boundary: Any) -> Any:
        boundary_id = boundary.get("id")
        for association in self.node.iterfind("bpmn:association", _NS):
            if association.get("sourceRef") == boundary_id:
                handler = self.get_node_by_id(association.get("targetRef"))
                if handler is not None and handler.get("isForCompensation") == "true":
                    return handler
        raise ValidationException(
            "A compensation boundary event needs an association to a compensation handler "
            "(an activity marked isForCompensation)",
            node=boundary,
            file_name=self.filename,
        )


def _compensation_throw(parser: Any, spec_class: type) -> Any:
    definition = _compensation(parser.node)
    return spec_class(
        parser.spec,
        parser.bpmn_id,
        definition.get("activityRef"),
        event_definition=NoneEventDefinition(),
        **parser.bpmn_attributes,
    )


def _link_name(node: Any) -> str | None:
    link = node.find("bpmn:linkEventDefinition", _NS)
    return None if link is None else link.get("name", "")


class RetailCatchEventParser(_EventParserMixin, IntermediateCatchEventParser):
    """A link catch event passes its token straight on (SpiffWorkflow would wait forever on
    it, as on a catch of nothing)."""

    def create_task(self) -> Any:
        if _link_name(self.node) is not None:
            return PassThroughTask(self.spec, self.bpmn_id, **self.bpmn_attributes)
        return super().create_task()


class RetailThrowEventParser(_JobEventMixin, IntermediateThrowEventParser):
    """A link throw event continues at the link catch event of the same name in the same
    (sub)process, as if a sequence flow joined them (SpiffWorkflow drops the link)."""

    def create_task(self) -> Any:
        if _link_name(self.node) is not None:
            return PassThroughTask(self.spec, self.bpmn_id, **self.bpmn_attributes)
        if _compensation(self.node) is not None:
            return _compensation_throw(self, CompensationThrowEvent)
        return self.job_task() or super().create_task()

    def parse_node(self) -> Any:
        task = super().parse_node()
        name = _link_name(self.node)
        if name is None:
            return task
        catches = [
            node
            for node in self.node.getparent().iterfind("bpmn:intermediateCatchEvent", _NS)
            if _link_name(node) == name
        ]
        if len(catches) != 1:
            self.raise_validation_exception(
                f"The link '{name}' needs exactly one link catch event of that name in the same "
                f"(sub)process; found {len(catches)}"
            )
        task.connect(self.process_parser.parse_node(catches[0]))
        return task


class RetailBoundaryEventParser(_EventParserMixin, BoundaryEventParser):
    pass


class RetailEventGatewayParser(_EventParserMixin, EventBasedGatewayParser):
    pass


class RetailReceiveTaskParser(_EventParserMixin, ReceiveTaskParser):
    pass


class RetailTaskParser(_ConfiguredParser):
    """Plain tasks, user tasks and manual tasks."""


class RetailGatewayParser(_ConfiguredParser, GatewayParser):
    pass


class RetailConditionalGatewayParser(_ConfiguredParser, ConditionalGatewayParser):
    pass


class RetailSubWorkflowParser(_ConfiguredParser, SubWorkflowParser):
    """Embedded and event subprocesses. SpiffWorkflow looks for ``triggeredByEvent`` in the
    BPMN namespace, where no file has it, so event subprocesses were plain ones."""

    def create_task(self) -> Any:
        subworkflow_spec = SubprocessParser.get_subprocess_spec(self)
        spec_class = (
            self.EVENT_SUBPROCESS_CLASS
            if self.node.get("triggeredByEvent") == "true"
            else self.spec_class
        )
        return spec_class(
            self.spec, self.bpmn_id, subworkflow_spec=subworkflow_spec, **self.bpmn_attributes
        )


class RetailServiceTaskParser(_ConfiguredParser):
    """Service tasks (and send tasks with a job type) wait as jobs for a handler; with a
    Camunda 7 delegate the runtime runs the handler in the step that reaches the task."""

    def create_task(self) -> Any:
        if not self.config.job_type and not self.calls_delegate:
            self.raise_validation_exception(
                "This service task has no job type: set zeebe:taskDefinition type (Camunda 8) "
                'or camunda:type="external" with camunda:topic (Camunda 7)'
            )
        return ServiceTask(self.spec, self.bpmn_id, **self.bpmn_attributes)


class RetailSendTaskParser(_EventParserMixin, SendTaskParser):
    """A send task with a job type or a delegate calls a handler; otherwise it throws its
    message."""

    def create_task(self) -> Any:
        if self.config.job_type or self.calls_delegate:
            return ServiceTask(self.spec, self.bpmn_id, **self.bpmn_attributes)
        return super().create_task()


class RetailBusinessRuleTaskParser(_ConfiguredParser):
    """A business rule task evaluates a DMN decision, or waits as a job if it has a job type."""

    def create_task(self) -> Any:
        config = self.config
        if config.job_type or self.calls_delegate:
            return ServiceTask(self.spec, self.bpmn_id, **self.bpmn_attributes)
        if not config.called_decision:
            self.raise_validation_exception(
                "This business rule task calls no decision: set zeebe:calledDecision "
                "decisionId (Camunda 8) or camunda:decisionRef (Camunda 7)"
            )
        return DecisionTask(
            self.spec,
            self.bpmn_id,
            config.called_decision or "",
            config.result_variable,
            config.map_decision_result,
            **self.bpmn_attributes,
        )


class RetailScriptTaskParser(_ConfiguredParser, ScriptTaskParser):
    """A script body, or a Camunda 8 ``zeebe:script`` expression with a result variable."""

    def create_task(self) -> Any:
        config = self.config
        if config.script_expression:
            return SandboxScriptTask(
                self.spec,
                self.bpmn_id,
                config.script_expression,
                config.script_result_variable,
                **self.bpmn_attributes,
            )
        return SandboxScriptTask(self.spec, self.bpmn_id, self.get_script(), **self.bpmn_attributes)


class RetailCallActivityParser(_ConfiguredParser, CallActivityParser):
    """Camunda 8 names the called process in ``zeebe:calledElement processId``."""

    def create_task(self) -> Any:
        called = self.config.called_element or self.node.get("calledElement")
        if not called:
            self.raise_validation_exception(
                "This call activity names no process: set zeebe:calledElement processId "
                "(Camunda 8) or calledElement (Camunda 7)"
            )
        return self.spec_class(
            self.spec, self.bpmn_id, subworkflow_spec=called, **self.bpmn_attributes
        )


class RetailBpmnParser(BpmnParser):
    """The parser the engine uses for every deployment."""

    PROCESS_PARSER_CLASS = RetailProcessParser

    OVERRIDE_PARSER_CLASSES = {
        full_tag("startEvent"): (RetailStartEventParser, StartEvent),
        full_tag("endEvent"): (RetailEndEventParser, EndEvent),
        full_tag("userTask"): (RetailTaskParser, UserTask),
        full_tag("task"): (RetailTaskParser, PassThroughTask),
        full_tag("manualTask"): (RetailTaskParser, PassThroughTask),
        full_tag("subProcess"): (RetailSubWorkflowParser, SubWorkflowTask),
        full_tag("transaction"): (RetailSubWorkflowParser, TransactionSubprocess),
        full_tag("exclusiveGateway"): (RetailConditionalGatewayParser, ExclusiveGateway),
        full_tag("inclusiveGateway"): (RetailConditionalGatewayParser, InclusiveGateway),
        full_tag("parallelGateway"): (RetailGatewayParser, ParallelGateway),
        full_tag("eventBasedGateway"): (RetailEventGatewayParser, EventBasedGateway),
        full_tag("callActivity"): (RetailCallActivityParser, MappedCallActivity),
        full_tag("scriptTask"): (RetailScriptTaskParser, SandboxScriptTask),
        full_tag("serviceTask"): (RetailServiceTaskParser, ServiceTask),
        full_tag("sendTask"): (RetailSendTaskParser, SendTask),
        full_tag("receiveTask"): (RetailReceiveTaskParser, ReceiveTask),
        full_tag("businessRuleTask"): (RetailBusinessRuleTaskParser, DecisionTask),
        full_tag("intermediateCatchEvent"): (RetailCatchEventParser, IntermediateCatchEvent),
        full_tag("intermediateThrowEvent"): (RetailThrowEventParser, IntermediateThrowEvent),
        full_tag("boundaryEvent"): (RetailBoundaryEventParser, BoundaryEvent),
    }

    def _add_data_stores(self, bpmn: Any) -> None:
        """Data store definitions are never run (SpiffWorkflow refused any file declaring one
        it had no implementation for, naming no element): a data store drawn in an executable
        process is reported by the checks instead, and elsewhere it is skipped."""

    def _find_dependencies(self, process: Any) -> None:
        for call_activity in process.iterfind(".//bpmn:callActivity", _NS):
            called = read_element_config(call_activity).called_element
            self.process_dependencies.add(called or call_activity.get("calledElement"))


__all__ = ["RetailBpmnParser", "ValidationException"]
