"""Static checks that catch, at deploy time, what would otherwise fail in production.

Each finding carries a stable rule name, the file, line and element id, and a hint that says
what to do. The checks walk each executable process once, dispatching on the element's tag;
expressions are handed to an injected checker so the engine plugs in its own expression
languages without this package depending on them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence

import isodate
from lxml import etree

from retailflow.bpmn.document import BpmnDocument, DmnDocument, is_executable
from retailflow.bpmn.extensions import (
    Dialect,
    ElementConfig,
    IoMapping,
    expression_language,
    read_element_config,
    read_message_correlation,
)
from retailflow.bpmn.languages import UnsupportedLanguage, as_marked, written_in
from retailflow.bpmn.listeners import EXECUTION_EVENTS, FLOW_EVENTS, TASK_EVENTS, read_listener
from retailflow.bpmn.namespaces import BPMN, CAMUNDA, ZEEBE, bpmn_tag
from retailflow.expressions.cron import looks_like_cron, parse_cron
from retailflow.model import ExpressionError, Finding, Severity

ExpressionChecker = Callable[[str, str, str | None], None]
"""``(text, language, element_id)`` raising ``ExpressionError``; language is ``feel``, ``juel``
or ``python``. Texts are expressions, passed as written (``=`` and ``${}`` included)."""
ScriptChecker = Callable[[str, str | None], None]
"""``(script, element_id)`` raising ``ExpressionError``; the script is a Python body
(statements), passed exactly as written."""


def _tags(names: str) -> frozenset[str]:
    return frozenset(bpmn_tag(name) for name in names.split())


_ACTIVITIES = _tags(
    "task serviceTask sendTask receiveTask userTask manualTask scriptTask businessRuleTask "
    "callActivity subProcess transaction adHocSubProcess"
)
_EVENTS = _tags("startEvent endEvent intermediateCatchEvent intermediateThrowEvent boundaryEvent")
_GATEWAYS = _tags(
    "exclusiveGateway inclusiveGateway parallelGateway eventBasedGateway complexGateway"
)
_FLOW_NODES = _ACTIVITIES | _EVENTS | _GATEWAYS
_SUB_PROCESSES = _tags("subProcess transaction adHocSubProcess")
_SEQUENCE_FLOW = bpmn_tag("sequenceFlow")
_CATCHING = _tags("startEvent intermediateCatchEvent boundaryEvent")
_THROWING = _tags("endEvent intermediateThrowEvent")
_SERVICE_TASK = bpmn_tag("serviceTask")
_SEND_TASK = bpmn_tag("sendTask")
_MESSAGE_DEFINITION = bpmn_tag("messageEventDefinition")
_MAPPED_CATCHES = (_MESSAGE_DEFINITION, bpmn_tag("timerEventDefinition"))
"""Catches whose output mappings the engine applies."""
_BPMN_PREFIX = f"{{{BPMN}}}"
_STATIC_DIALECTS = frozenset({Dialect.CAMUNDA8, Dialect.CAMUNDA7})
"""Dialects where plain text (a mapping source, a timer) is a static value, not Python."""
_TIMER_KINDS = {bpmn_tag(name): name for name in ("timeDate", "timeDuration", "timeCycle")}
_OMG_NAMESPACES = ("http://www.omg.org/spec/", "https://www.omg.org/spec/")
"""Where the BPMN and DMN models and their diagram interchange (DI, DC) live: ids there must
be unique. Extension elements (``zeebe:``, ``camunda:formField``, ``modeler:``, a vendor's own)
carry ids of their own meaning, which may repeat an element's."""
_PYTHON_FORMATS = frozenset({"", "python", "python3"})
_LANGUAGE_NAMES = {"feel": "FEEL", "juel": "JUEL", "python": "Python"}
_REPEAT = re.compile(r"R\d*")

_UNSUPPORTED = {
    bpmn_tag("complexGateway"): (
        "complex gateways",
        "use an inclusive or exclusive gateway with explicit conditions",
    ),
    bpmn_tag("conditionalEventDefinition"): (
        "conditional events",
        "use a message or timer event that the application triggers",
    ),
}
"""What SpiffWorkflow cannot run faithfully, with what to draw instead."""
_DATA_REFERENCES = {
    bpmn_tag("dataObjectReference"): "data object",
    bpmn_tag("dataStoreReference"): "data store",
}
"""Data drawn on the diagram. Camunda 7 and 8 treat it as documentation only, and so does
retailflow for their files; SpiffWorkflow-style files run data objects as SpiffWorkflow does."""
_DATA_STORE_REFERENCE = bpmn_tag("dataStoreReference")
_LISTENERS = frozenset(
    {
        f"{{{CAMUNDA}}}executionListener",
        f"{{{CAMUNDA}}}taskListener",
        f"{{{ZEEBE}}}executionListener",
        f"{{{ZEEBE}}}taskListener",
    }
)
_CAMUNDA_SCRIPT = f"{{{CAMUNDA}}}script"
_EXTENSION_ELEMENTS = bpmn_tag("extensionElements")
_PROCESS = bpmn_tag("process")
_FIELD_INJECTION = f"{_EXTENSION_ELEMENTS}/{{{CAMUNDA}}}field"
_CAMUNDA_RESOURCE = f"{{{CAMUNDA}}}resource"
_HAS_START_EVENT = etree.XPath("boolean(bpmn:startEvent)", namespaces={"bpmn": BPMN})

_JOB_TYPE_HINTS = {
    Dialect.CAMUNDA8: "set the task definition type (zeebe:taskDefinition type=...) in "
    "Modeler's 'Task definition' panel and register a handler for it",
    Dialect.CAMUNDA7: "set Implementation to 'External' with a topic (camunda:type=\"external\" "
    "camunda:topic=...) and register a handler for the topic",
    Dialect.SPIFF: "add a spiffworkflow:serviceTaskOperator with the handler's name as its id",
    Dialect.PLAIN: "draw the file for Camunda 8 or 7 in Modeler and set the task's job type "
    "(zeebe:taskDefinition type, or camunda:topic)",
}


def check_documents(
    documents: Sequence[BpmnDocument | DmnDocument],
    *,
    check_expression: ExpressionChecker | None = None,
    check_script: ScriptChecker | None = None,
) -> list[Finding]:
    """Every finding for a deployment's files, checked together so references between files
    (called processes, decisions, duplicate ids) resolve.

    Without ``check_expression`` expressions are not checked (timer literals still are);
    without ``check_script`` script bodies get ``python_syntax``.
    """
    processes: dict[str, bool] = {}
    decisions: set[str] = set()
    for document in documents:
        if isinstance(document, BpmnDocument):
            for info in document.processes:
                processes[info.id] = processes.get(info.id, False) or info.executable
        else:
            decisions.update(document.decisions)
    findings = _duplicate_definitions(documents)
    for document in documents:
        if isinstance(document, BpmnDocument):
            check = _DocumentCheck(
                document, processes, decisions, check_expression, check_script or python_syntax
            )
            findings.extend(check.run())
        else:
            findings.extend(_duplicate_ids(document.tree, document.name))
    return findings


_DUPLICATE_HINTS = {
    "process": "process and sub-process ids must be unique across the files deployed "
    "together: rename one of them (the element's ID in Modeler)",
    "decision": "deploy one file per decision id, or rename one of them",
}


def _duplicate_definitions(documents: Sequence[BpmnDocument | DmnDocument]) -> list[Finding]:
    """A process or decision id defined in two files: the deployment could not tell which
    one a caller means. Sub-process ids count as process ids: SpiffWorkflow keeps both in one
    table, and refuses (or silently mixes up) a clash between files."""
    findings: list[Finding] = []
    first: dict[tuple[str, str], tuple[str, int | None, str]] = {}
    for document in documents:
        # (id space, what the element is, id, line): processes and sub-processes share a space
        if isinstance(document, BpmnDocument):
            entries = [("process", "process", info.id, info.line) for info in document.processes]
            entries.extend(
                ("process", "sub-process", element.get("id", ""), element.sourceline)
                for element in document.tree.iter(*_SUB_PROCESSES)
                if element.get("id")
            )
        else:
            root = document.tree.getroot()
            entries = [
                ("decision", "decision", element.get("id", ""), element.sourceline)
                for element in root.iterchildren(f"{{{document.namespace}}}decision")
                if element.get("id")
            ]
        for space, noun, identifier, line in entries:
            where = first.setdefault((space, identifier), (document.name, line, noun))
            if where[0] != document.name:
                findings.append(
                    Finding(
                        Severity.ERROR,
                        "duplicate-id",
                        f"{noun} id '{identifier}' is also the id of a {where[2]} in "
                        f"{where[0]}:{where[1]}",
                        file=document.name,
                        line=line,
                        element_id=identifier,
                        hint=_DUPLICATE_HINTS[space],
                    )
                )
    return findings


def _duplicate_ids(tree: etree._ElementTree, file: str) -> list[Finding]:
    findings: list[Finding] = []
    seen: dict[str, int | None] = {}
    for element in tree.iter(etree.Element):
        identifier = element.get("id")
        namespace = etree.QName(element).namespace or ""
        if not identifier or not namespace.startswith(_OMG_NAMESPACES):
            continue
        if identifier in seen:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "duplicate-id",
                    f"id '{identifier}' is already used on line {seen[identifier]}",
                    file=file,
                    line=element.sourceline,
                    element_id=identifier,
                    hint="give every element its own id (Modeler does when elements are redrawn)",
                )
            )
        else:
            seen[identifier] = element.sourceline
    return findings


class _DocumentCheck:
    """The checks of one BPMN file, in one walk over each executable process."""

    def __init__(
        self,
        document: BpmnDocument,
        processes: dict[str, bool],
        decisions: set[str],
        check_expression: ExpressionChecker | None,
        check_script: ScriptChecker,
    ) -> None:
        self.document = document
        self.processes = processes
        self.decisions = decisions
        self.check_expression = check_expression
        self.check_script = check_script
        self.findings: list[Finding] = []
        self.sibling_ids: dict[etree._Element, dict[str, etree._Element]] = {}
        self.handlers: dict[str, Callable[[etree._Element], None]] = {
            _SEQUENCE_FLOW: self._sequence_flow,
            bpmn_tag("boundaryEvent"): self._boundary_event,
            bpmn_tag("messageEventDefinition"): self._message_definition,
            bpmn_tag("signalEventDefinition"): self._signal_definition,
            bpmn_tag("errorEventDefinition"): self._error_definition,
            bpmn_tag("escalationEventDefinition"): self._escalation_definition,
            bpmn_tag("linkEventDefinition"): self._link_definition,
            bpmn_tag("compensateEventDefinition"): self._compensate_definition,
            bpmn_tag("receiveTask"): self._receive_task,
            bpmn_tag("timerEventDefinition"): self._timer_definition,
            bpmn_tag("completionCondition"): self._condition,
            _CAMUNDA_SCRIPT: self._camunda_script,
        }

    def run(self) -> list[Finding]:
        root = self.document.tree.getroot()
        self.findings.extend(_duplicate_ids(self.document.tree, self.document.name))
        for message in root.iterchildren(bpmn_tag("message")):
            key = read_message_correlation(message)
            if key:
                self._expression(message, key, literal_allowed=True)
        for process in root.iterchildren(bpmn_tag("process")):
            self._process(process)
        return self.findings

    def _process(self, process: etree._Element) -> None:
        if not process.get("id"):
            self._add(
                process,
                "missing-id",
                "the process has no id",
                "give the process an id in Modeler's 'General' panel",
                owned=False,
            )
            return
        if not is_executable(process):
            self._add(
                process,
                "process-not-executable",
                f"process '{process.get('id')}' is not executable and is skipped, as Camunda does",
                "tick 'Executable' on the process in Modeler if it should run",
                Severity.WARNING,
            )
            return
        if not _HAS_START_EVENT(process):
            self._add(
                process,
                "start-event-required",
                "the process has no start event",
                "draw a start event; without one no instance can ever start",
            )
        for element in process.iter(etree.Element):
            self._element(element)

    def _element(self, element: etree._Element) -> None:
        tag = element.tag
        unsupported = _UNSUPPORTED.get(tag)
        if unsupported is not None:
            what, hint = unsupported
            self._add(element, "unsupported-element", f"{what} are not supported", hint)
        elif tag in _DATA_REFERENCES:
            self._data_reference(element, _DATA_REFERENCES[tag])
        elif tag in _LISTENERS:
            self._listener(element)
        if tag in _FLOW_NODES or tag == _SEQUENCE_FLOW:
            if not element.get("id"):
                self._add(
                    element,
                    "missing-id",
                    f"a {etree.QName(element).localname} has no id",
                    "give the element an id; Modeler always writes one",
                    owned=False,
                )
            if element.get("default") is not None:
                self._default_flow(element)
        if tag in _FLOW_NODES:
            self._flow_node(element, read_element_config(element))
        handler = self.handlers.get(tag)
        if handler is not None:
            handler(element)

    def _data_reference(self, element: etree._Element, kind: str) -> None:
        if self.document.dialect in _STATIC_DIALECTS:
            self._add(
                element,
                "data-ignored",
                f"the {kind} '{element.get('name') or element.get('id')}' is documentation "
                "only, as in Camunda: no variable is read or written through it",
                "read and write the data in service task handlers or variable mappings",
                Severity.WARNING,
            )
        elif element.tag == _DATA_STORE_REFERENCE:
            self._add(
                element,
                "unsupported-element",
                "data stores are not supported",
                "read and write the data in service task handlers",
            )

    def _flow_node(self, element: etree._Element, config: ElementConfig) -> None:
        tag = etree.QName(element).localname
        if config.java_delegate is not None:
            attribute, value = config.java_delegate
            if attribute == "connector":
                self._add(
                    element,
                    "unsupported-element",
                    f"Camunda Connect connectors cannot run here (connector '{value}')",
                    "call the service from a Python handler: bind the task to it with "
                    'camunda:class, camunda:delegateExpression or camunda:type="external"',
                )
        elif _needs_job_type(element, config):
            self._add(
                element,
                "missing-job-type",
                f"the {tag} has no job type, so no handler can ever run it",
                _JOB_TYPE_HINTS[config.dialect],
            )
        elif tag == "businessRuleTask":
            self._business_rule_task(element, config)
        if tag == "callActivity":
            self._call_activity(element, config)
        elif tag == "scriptTask":
            self._script_task(element, config)
        self._camunda7_settings(element, tag, config)
        if (config.inputs or config.outputs) and not _applies_mappings(element, config):
            self._add(
                element,
                "mapping-ignored",
                f"the {tag}'s input/output mappings are not applied: retailflow applies them "
                "on jobs, business rule tasks, call activities, and message and timer catch "
                "events only",
                "move the mapping to the job, decision, call activity or catch event that "
                "reads or writes the variables, or compute them in a script task",
                Severity.WARNING,
            )
        self._config_expressions(element, config)

    def _camunda7_settings(self, element: etree._Element, tag: str, config: ElementConfig) -> None:
        """Camunda 7 settings read but not applied are said, not silently dropped."""
        if (config.async_before or config.async_after) and not _calls_handler(tag, config):
            self._add(
                element,
                "setting-ignored",
                f"camunda:asyncBefore/asyncAfter on a {tag} is not a wait state here: the step "
                "runs through it",
                "async continuations apply to service, send and business rule tasks that call "
                "a handler; drop the flag, or put the work in such a task",
                Severity.WARNING,
            )
        if config.java_delegate is not None and element.find(_FIELD_INJECTION) is not None:
            self._add(
                element,
                "setting-ignored",
                "the delegate's camunda:field injections are not passed to its handler",
                "pass the values as camunda:inputParameter instead; the handler reads them as "
                "variables",
                Severity.WARNING,
            )

    def _listener(self, element: etree._Element) -> None:
        """A listener runs where the engine fires it, calling a handler or a Python/FEEL
        script; anything else is refused here rather than silently never called."""
        listener = read_listener(element)
        if listener is None:
            return
        owner = _listener_owner(element)
        kind = f"{listener.kind} listener"
        execution = listener.kind == "execution"
        on_flow = owner is not None and owner.tag == _SEQUENCE_FLOW and execution
        on_process = owner is not None and owner.tag == _PROCESS and execution
        if owner is None or (owner.tag not in _FLOW_NODES and not on_process and not on_flow):
            where = "an element" if owner is None else f"a {etree.QName(owner).localname}"
            self._add(
                element,
                "unsupported-element",
                f"{kind}s on {where} are not supported (they run on processes, tasks, events, "
                "gateways and subprocesses)",
                "move the listener to the element the flow leads to",
            )
            return
        events = FLOW_EVENTS if on_flow else EXECUTION_EVENTS if execution else TASK_EVENTS
        if listener.event not in events:
            supported = ", ".join(sorted(events))
            self._add(
                element,
                "unsupported-element",
                f"'{listener.event}' {kind}s are not supported (supported: {supported})",
                "use one of the supported events, or do the work in a task of its own",
            )
        if listener.script_resource is not None:
            self._add(
                element,
                "unsupported-element",
                f"the {kind}'s script is in an external resource "
                f"('{listener.script_resource}'), which cannot run here",
                "write the script inline, in Python or FEEL",
            )
        elif listener.script is not None:
            self._listener_script(element, listener.script, listener.script_format, kind)
        elif listener.delegate is None and listener.job_type is None:
            self._add(
                element,
                "missing-job-type",
                f"the {kind} names nothing to call",
                "set its Java class, delegate expression or expression (Camunda 7), or its "
                "listener type (Camunda 8), to the name of a registered handler",
            )

    def _listener_script(
        self, element: etree._Element, script: str, script_format: str | None, kind: str
    ) -> None:
        language = (script_format or "").strip().lower()
        if language == "feel":
            self._expression(element, script, language="feel")
        elif language in _PYTHON_FORMATS:
            self._script(element, script)
        else:
            self._add(
                element,
                "unsupported-element",
                f"the {kind}'s script is in '{script_format}', which cannot run here "
                f"(element '{_owner_id(element)}')",
                'rewrite the script in Python (scriptFormat="python") or FEEL '
                '(scriptFormat="feel"), or call a Python handler with camunda:class',
            )

    def _call_activity(self, element: etree._Element, config: ElementConfig) -> None:
        called = config.called_element
        if not called:
            self._add(
                element,
                "called-element-unknown",
                "the call activity calls no process",
                "set the called process id (zeebe:calledElement processId, or calledElement)",
            )
        elif expression_language(called) is None and not self.processes.get(called, False):
            state = (
                "exists but is not executable"
                if called in self.processes
                else "is not in this deployment"
            )
            self._add(
                element,
                "called-element-unknown",
                f"the called process '{called}' {state}",
                "deploy the called process's file together with this one, executable",
            )

    def _business_rule_task(self, element: etree._Element, config: ElementConfig) -> None:
        decision = config.called_decision
        if not decision and not config.job_type:
            self._add(
                element,
                "called-decision-unknown",
                "the business rule task calls no decision and has no job type",
                "set the decision id (zeebe:calledDecision decisionId, or camunda:decisionRef)",
            )
        elif decision and expression_language(decision) is None and decision not in self.decisions:
            self._add(
                element,
                "called-decision-unknown",
                f"the decision '{decision}' is not in this deployment",
                "deploy the .dmn file that defines it together with this one",
            )

    def _script_task(self, element: etree._Element, config: ElementConfig) -> None:
        script_format = (config.script_format or "").strip().lower()
        resource = element.get(_CAMUNDA_RESOURCE)
        if resource and not (config.script and config.script.strip()):
            self._add(
                element,
                "unsupported-element",
                f'the script is in an external resource (camunda:resource="{resource}"), '
                "which cannot be loaded here",
                'paste the script into the task as an inline Python script (scriptFormat="python")',
            )
        elif config.script is not None and config.script.strip():
            if script_format not in _PYTHON_FORMATS:
                self._add(
                    element,
                    "unsupported-element",
                    f"scripts in '{config.script_format}' cannot run here",
                    'rewrite the script in Python (scriptFormat="python")',
                )
            else:
                self._script(element, config.script)
        elif config.script_expression:
            if expression_language(config.script_expression) != "feel":
                self._add(
                    element,
                    "expression-invalid",
                    "a Camunda 8 script expression must start with '='",
                    "write the expression as =<FEEL expression>",
                )
            else:
                self._expression(element, config.script_expression)
        elif not config.job_type:
            self._add(
                element,
                "missing-script",
                "the script task has no script",
                "write the script, or remove the task",
            )

    def _config_expressions(self, element: etree._Element, config: ElementConfig) -> None:
        for mapping in _flatten(config.inputs + config.outputs):
            if mapping.kind == "expression" and mapping.value:
                self._expression(
                    element, mapping.value, literal_allowed=config.dialect in _STATIC_DIALECTS
                )
        for text in (
            config.assignee,
            config.candidate_groups,
            config.candidate_users,
            config.due_date,
            config.follow_up_date,
            config.called_element,
            config.called_decision,
            config.job_type,
            config.retries_expression,
            config.form_key,
        ):
            if text and expression_language(text) is not None:
                self._expression(element, text)
        for script in (config.pre_script, config.post_script):
            if script and script.strip():
                self._script(element, script)

    def _camunda_script(self, element: etree._Element) -> None:
        script_format = element.get("scriptFormat", "").strip().lower()
        parent = element.getparent()
        if parent is not None and parent.tag in _LISTENERS:
            return  # a listener's script: checked with its listener
        if script_format not in _PYTHON_FORMATS:
            self._add(
                element,
                "unsupported-element",
                f"scripts in '{element.get('scriptFormat')}' cannot run here",
                "write the mapping as a ${...} expression instead",
            )

    def _sequence_flow(self, flow: etree._Element) -> None:
        siblings = self._siblings(flow)
        for attribute in ("sourceRef", "targetRef"):
            reference = flow.get(attribute)
            if not reference:
                self._add(
                    flow,
                    "missing-reference",
                    f"the sequence flow has no {attribute}",
                    "reconnect both ends of the flow in Modeler",
                )
            elif reference not in siblings:
                self._add(
                    flow,
                    "missing-reference",
                    f"the sequence flow's {attribute} '{reference}' is not an element "
                    "of the same (sub)process",
                    "reconnect the flow in Modeler",
                )
        condition = flow.find(bpmn_tag("conditionExpression"))
        if condition is not None:
            self._condition(condition)

    def _condition(self, condition: etree._Element) -> None:
        text = condition.text
        if not text or not text.strip():
            self._add(
                condition,
                "expression-invalid",
                "the condition is empty",
                "write the condition, or remove it to make the flow unconditional",
            )
            return
        try:
            language = written_in(condition)
        except UnsupportedLanguage as unsupported:
            self._add(
                condition,
                "unsupported-language",
                f"the condition is written in '{unsupported.language}', which cannot be "
                "evaluated here",
                "write it in FEEL (=...), JUEL (${...}) or Python, or declare one of them in "
                "the condition's language",
            )
            return
        self._expression(condition, as_marked(text, language), language=language)

    def _default_flow(self, element: etree._Element) -> None:
        default = element.get("default", "")
        flow = self._siblings(element).get(default)
        if flow is None or flow.tag != _SEQUENCE_FLOW or flow.get("sourceRef") != element.get("id"):
            self._add(
                element,
                "missing-reference",
                f"the default flow '{default}' is not one of the element's outgoing flows",
                "mark one of the outgoing flows as default in Modeler",
            )

    def _boundary_event(self, event: etree._Element) -> None:
        attached = event.get("attachedToRef")
        target = self._siblings(event).get(attached or "")
        if target is None or target.tag not in _ACTIVITIES:
            self._add(
                event,
                "missing-reference",
                f"the boundary event is attached to '{attached}', which is not an "
                "activity of the same (sub)process",
                "attach the event to a task again in Modeler",
            )

    def _message_definition(self, definition: etree._Element) -> None:
        self._reference(
            definition,
            "messageRef",
            self.document.messages,
            "message",
            required=definition.getparent().tag in _CATCHING,
        )

    def _receive_task(self, task: etree._Element) -> None:
        self._reference(task, "messageRef", self.document.messages, "message", required=True)

    def _signal_definition(self, definition: etree._Element) -> None:
        self._reference(definition, "signalRef", self.document.signals, "signal", required=True)

    def _error_definition(self, definition: etree._Element) -> None:
        self._reference(
            definition,
            "errorRef",
            self.document.errors,
            "error",
            required=definition.getparent().tag == bpmn_tag("endEvent"),
        )

    def _escalation_definition(self, definition: etree._Element) -> None:
        throwing = definition.getparent().tag in _THROWING
        self._reference(
            definition,
            "escalationRef",
            self.document.escalations,
            "escalation",
            required=throwing,
        )
        _, code = self.document.escalations.get(definition.get("escalationRef", ""), (None, None))
        if code and expression_language(code) is not None:
            if throwing:
                self._expression(definition, code)
            else:
                self._add(
                    definition,
                    "expression-invalid",
                    "a catch event's escalation code must be a static value, as in Camunda",
                    "select an escalation with a literal code, or none to catch every code",
                )

    def _compensate_definition(self, definition: etree._Element) -> None:
        """Compensation as Camunda 8 runs it: boundary events associated with a handler, and
        throw/end events compensating their own (sub)process."""
        event = definition.getparent()
        scope = event.getparent()
        hint = (
            "compensate the activities of the sub-process with a compensation throw event "
            "inside it, or move them out of it"
        )
        if event.tag == bpmn_tag("startEvent"):
            self._add(
                event,
                "unsupported-element",
                "compensation event subprocesses are not supported (Camunda 8 has none either)",
                "attach a compensation boundary event with a handler to each activity to undo",
            )
        elif event.tag == bpmn_tag("boundaryEvent"):
            handlers = {
                association.get("targetRef")
                for association in scope.iterchildren(bpmn_tag("association"))
                if association.get("sourceRef") == event.get("id")
            }
            siblings = self._siblings(event)
            if not any(
                siblings.get(handler or "") is not None
                and siblings[handler or ""].get("isForCompensation") == "true"
                for handler in handlers
            ):
                self._add(
                    event,
                    "missing-reference",
                    "the compensation boundary event is associated with no compensation "
                    "handler (an activity marked 'for compensation')",
                    "draw an association from the event to the activity that undoes the work",
                )
        elif definition.get("activityRef") is None:
            nested = [
                sub.get("id")
                for sub in scope.iterchildren(*_SUB_PROCESSES)
                if sub.find(f".//{bpmn_tag('compensateEventDefinition')}/..") is not None
                and sub.get("triggeredByEvent") != "true"
            ]
            if nested:
                self._add(
                    event,
                    "unsupported-element",
                    f"compensation of the activities inside the sub-process '{nested[0]}' "
                    "cannot run: SpiffWorkflow keeps a finished sub-process's tasks in a "
                    "workflow of their own, so a throw compensates its own (sub)process only",
                    hint,
                )

    def _link_definition(self, definition: etree._Element) -> None:
        """A link throw goes on at the one link catch of its name in the same (sub)process."""
        event = definition.getparent()
        if event.tag != bpmn_tag("intermediateThrowEvent"):
            return
        name = definition.get("name", "")
        scope = event.getparent()
        catches = [
            other
            for other in scope.iterchildren(bpmn_tag("intermediateCatchEvent"))
            for link in other.iterchildren(bpmn_tag("linkEventDefinition"))
            if link.get("name", "") == name
        ]
        if len(catches) != 1:
            found = "none" if not catches else f"{len(catches)}"
            # The rule bpmnlint's link-event reports at validate; deploy must refuse it too.
            self._add(
                event,
                "link-event",
                f"the link '{name}' needs exactly one link catch event of that name in the "
                f"same (sub)process; found {found}",
                "name the link catch event exactly as the throw (links do not cross "
                "sub-process boundaries)",
            )

    def _reference(
        self,
        element: etree._Element,
        attribute: str,
        defined: Mapping[str, object],
        kind: str,
        *,
        required: bool,
    ) -> None:
        reference = element.get(attribute)
        if not reference:
            if required:
                self._add(
                    element,
                    "missing-reference",
                    f"no {kind} is selected",
                    f"select or create the {kind} in Modeler's properties panel",
                )
        elif reference not in defined and reference.rpartition(":")[2] not in defined:
            self._add(
                element,
                "missing-reference",
                f"{attribute} '{reference}' names no {kind} defined in this file",
                f"define the bpmn:{kind} with id '{reference}', or select an existing one",
            )

    def _timer_definition(self, definition: etree._Element) -> None:
        parts = list(definition.iterchildren(*_TIMER_KINDS))
        if not parts or not any(part.text and part.text.strip() for part in parts):
            self._add(
                definition,
                "expression-invalid",
                "the timer has no date, duration or cycle",
                "set the timer's type and value in Modeler (e.g. a duration PT15M)",
            )
            return
        for part in parts:
            text = (part.text or "").strip()
            if not text:
                continue
            if expression_language(text) is not None:
                self._expression(part, text)
            elif _TIMER_KINDS[part.tag] == "timeCycle" and looks_like_cron(text):
                self._cron(part, text)
            elif not _iso_timer(_TIMER_KINDS[part.tag], text):
                if self.document.dialect in _STATIC_DIALECTS:
                    self._add(
                        part,
                        "expression-invalid",
                        f"'{text}' is not an ISO 8601 {_TIMER_KINDS[part.tag][4:].lower()}",
                        "write e.g. PT15M (duration), 2025-01-31T09:00:00Z (date) or "
                        "R3/PT1H or 0 0 9 * * MON-FRI (cycle), or an expression "
                        "starting with '='",
                    )
                else:
                    self._expression(part, text, language="python")

    def _cron(self, part: etree._Element, text: str) -> None:
        quartz = self.document.dialect is Dialect.CAMUNDA7
        try:
            parse_cron(text, quartz=quartz)
        except ValueError as error:
            self._add(
                part,
                "expression-invalid",
                f"the timer cycle is not a valid cron expression: {error}",
                "write six fields, seconds first (e.g. 0 0 9 * * MON-FRI), with days of the "
                + (
                    "week 1 (SUN) to 7 (SAT), as Quartz reads them"
                    if quartz
                    else "week 0 or 7 (SUN) to 6 (SAT), or a macro such as @daily"
                ),
            )

    def _expression(
        self,
        element: etree._Element,
        text: str,
        *,
        language: str | None = None,
        literal_allowed: bool = False,
    ) -> None:
        """Hand one expression to the injected checker; plain text is a literal where the
        dialect allows one, else Python."""
        if self.check_expression is None:
            return
        language = language or expression_language(text)
        if language is None:
            if literal_allowed:
                return
            language = "python"
        try:
            self.check_expression(text.strip(), language, _owner_id(element))
        except ExpressionError as error:
            self._add(
                element,
                "expression-invalid",
                str(error),
                f"fix the {_LANGUAGE_NAMES.get(language, language)} expression",
            )

    def _script(self, element: etree._Element, script: str) -> None:
        try:
            self.check_script(script, _owner_id(element))
        except ExpressionError as error:
            self._add(element, "expression-invalid", str(error), "fix the Python script")

    def _siblings(self, element: etree._Element) -> dict[str, etree._Element]:
        parent = element.getparent()
        if parent is None:
            return {}
        ids = self.sibling_ids.get(parent)
        if ids is None:
            ids = {
                child.get("id", ""): child
                for child in parent.iterchildren(etree.Element)
                if child.get("id")
            }
            self.sibling_ids[parent] = ids
        return ids

    def _add(
        self,
        element: etree._Element,
        rule: str,
        message: str,
        hint: str,
        severity: Severity = Severity.ERROR,
        *,
        owned: bool = True,
    ) -> None:
        """Record a finding; ``owned=False`` for an element that has no id of its own to show."""
        element_id = _owner_id(element) if owned else None
        self.findings.append(
            Finding(
                severity,
                rule,
                message,
                file=self.document.name,
                line=element.sourceline,
                element_id=element_id,
                hint=hint,
            )
        )


def _listener_owner(element: etree._Element) -> etree._Element | None:
    """The BPMN element a listener is written on."""
    current = element.getparent()
    while current is not None and (
        etree.QName(current).namespace != BPMN or current.tag == _EXTENSION_ELEMENTS
    ):
        current = current.getparent()
    return current


def python_syntax(script: str, element_id: str | None) -> None:
    """The default script check: Python syntax only (the sandbox's policy is the engine's), so
    a typo fails the deployment instead of the first instance that reaches the task."""
    try:
        compile(script, "<script>", "exec", dont_inherit=True)
    except SyntaxError as error:
        raise ExpressionError(
            f"Python syntax error at line {error.lineno}: {error.msg}",
            expression=script,
            element_id=element_id,
        ) from error
    except (ValueError, RecursionError, OverflowError) as error:
        raise ExpressionError(
            f"Python script cannot be compiled: {error}", expression=script, element_id=element_id
        ) from error


def _owner_id(element: etree._Element) -> str | None:
    """The id a user finds in Modeler: the element's own, or that of the flow node holding an
    event definition, a condition or an extension element."""
    current: etree._Element | None = element
    while current is not None:
        tag = current.tag
        if (
            isinstance(tag, str)
            and tag.startswith(_BPMN_PREFIX)
            and current.get("id")
            and not tag.endswith("EventDefinition")
        ):
            return current.get("id")
        current = current.getparent()
    return None


def _binds_delegate(config: ElementConfig) -> bool:
    """A Camunda 7 delegate the engine binds to a handler (a connector cannot run)."""
    delegate = config.java_delegate
    return delegate is not None and delegate[0] != "connector"


def _calls_handler(tag: str, config: ElementConfig) -> bool:
    """A service-like task whose handler the engine calls: a job type or a delegate."""
    return tag in ("serviceTask", "sendTask", "businessRuleTask") and bool(
        config.job_type or _binds_delegate(config)
    )


def _is_message_throw(element: etree._Element) -> bool:
    return element.tag in _THROWING and element.find(_MESSAGE_DEFINITION) is not None


def _needs_job_type(element: etree._Element, config: ElementConfig) -> bool:
    """A service or send task, or a message throw or end event, that nothing can run: without
    a job type it would need a message to throw (send tasks and events only)."""
    if config.job_type:
        return False
    tag = element.tag
    if tag == _SERVICE_TASK:
        return True
    if tag == _SEND_TASK:
        return not element.get("messageRef")
    if _is_message_throw(element):
        definition = element.find(_MESSAGE_DEFINITION)
        return definition is not None and not definition.get("messageRef")
    return False


def _applies_mappings(element: etree._Element, config: ElementConfig) -> bool:
    """Where the engine applies ``zeebe:ioMapping`` / ``camunda:inputOutput`` (and
    ``camunda:in``/``out``): jobs (tasks, and message throw and end events with a job type),
    decisions, called processes, and events and receive tasks that catch a message or a timer
    (their outputs write what the catch brings, their inputs are local to it)."""
    tag = etree.QName(element).localname
    if (config.job_type or _binds_delegate(config)) and (
        tag in ("serviceTask", "sendTask", "businessRuleTask") or _is_message_throw(element)
    ):
        return True
    if tag == "receiveTask" or (
        element.tag in _CATCHING
        and any(element.find(definition) is not None for definition in _MAPPED_CATCHES)
    ):
        return True
    return tag == "callActivity" or (tag == "businessRuleTask" and bool(config.called_decision))


def _flatten(mappings: tuple[IoMapping, ...]) -> Iterator[IoMapping]:
    for mapping in mappings:
        if mapping.kind in ("list", "map"):
            yield from _flatten(mapping.value)
        else:
            yield mapping


def _iso_timer(kind: str, text: str) -> bool:
    """Whether a literal timer value is valid ISO 8601 for its kind."""
    try:
        if kind == "timeDuration":
            isodate.parse_duration(text)
        elif kind == "timeDate":
            _parse_date(text)
        else:
            repeat, _, rest = text.partition("/")
            if not rest or not _REPEAT.fullmatch(repeat):
                return False
            for part in rest.split("/"):
                if part.startswith("P"):
                    isodate.parse_duration(part)
                else:
                    _parse_date(part)
    except (ValueError, OverflowError, ArithmeticError):
        return False
    return True


def _parse_date(text: str) -> None:
    if "T" in text:
        isodate.parse_datetime(text)
    else:
        isodate.parse_date(text)
