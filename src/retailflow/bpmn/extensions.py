"""One dialect-neutral reading of a flow node's extensions.

Camunda 8 (``zeebe:``), Camunda 7 (``camunda:``) and SpiffWorkflow (``spiffworkflow:``) say the
same things in different shapes: a job type, variable mappings, an assignee, a called process.
``read_element_config`` turns any of them into one ``ElementConfig`` so the engine, the checks
and the CLI never branch on the dialect again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from lxml import etree

from retailflow.bpmn.listeners import (
    DELEGATE_ATTRIBUTES,
    Listener,
    read_camunda_listener,
    read_zeebe_listeners,
)
from retailflow.bpmn.namespaces import BPMN, CAMUNDA, MODELER, SPIFF, ZEEBE

IoKind = Literal["expression", "literal", "list", "map"]

_EXTENSIONS = f"{{{BPMN}}}extensionElements"
_SCRIPT = f"{{{BPMN}}}script"
_SCRIPT_TASK = f"{{{BPMN}}}scriptTask"
_MESSAGE_DEFINITION = f"{{{BPMN}}}messageEventDefinition"
_PLATFORMS = {"Camunda Cloud": "camunda8", "Camunda Platform": "camunda7"}
_RETRY_COUNT = re.compile(r"R(\d+)/")
_C7_RESULT_LIST = "resultList"


class Dialect(StrEnum):
    """Which extension vocabulary an element (or a whole file) is written in."""

    CAMUNDA8 = "camunda8"
    CAMUNDA7 = "camunda7"
    SPIFF = "spiff"
    PLAIN = "plain"


@dataclass(frozen=True, slots=True)
class IoMapping:
    """One variable mapping: ``target`` receives ``value``.

    ``source`` is the text as written in the file (None when there is none). ``kind`` says how
    to read ``value``: ``expression`` is the expression text as written (``=`` FEEL, ``${}``
    JUEL, otherwise Python); ``literal`` a static string (None for an empty Camunda 7
    parameter); ``list`` and ``map`` a tuple of nested ``IoMapping`` whose targets are the
    positions (``"0"``, ``"1"`` ...) or the map keys.
    """

    target: str
    source: str | None
    kind: IoKind
    value: Any


@dataclass(frozen=True, slots=True)
class ElementConfig:
    """Everything retailflow reads from one element's extensions, whatever the dialect.

    Defaults are the dialect's own: Camunda 8 propagates all variables into and out of a called
    process, Camunda 7 only with ``camunda:in/out variables="all"``; Camunda 7 maps decision
    results with ``resultList`` unless told otherwise. ``java_delegate`` records a Camunda 7
    ``(attribute, value)`` such as ``("class", "com.acme.Reserve")``: the engine binds it to a
    registered Python handler (``("connector", id)`` is a Connect connector, which cannot run).
    ``async_before`` / ``async_after`` are Camunda 7's durable wait states around the element;
    ``listeners`` its execution and task listeners, in the order written.
    A ``job_type`` may be an expression (``=...``), evaluated when the job is created, as
    ``retries_expression`` is (Camunda 8's ``retries="=..."``) in place of ``retries``.
    """

    dialect: Dialect
    job_type: str | None = None
    retries: int | None = None
    retries_expression: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    inputs: tuple[IoMapping, ...] = ()
    outputs: tuple[IoMapping, ...] = ()
    assignee: str | None = None
    candidate_groups: str | None = None
    candidate_users: str | None = None
    form_key: str | None = None
    due_date: str | None = None
    follow_up_date: str | None = None
    called_element: str | None = None
    propagate_all_child_variables: bool = True
    propagate_all_parent_variables: bool = True
    called_decision: str | None = None
    result_variable: str | None = None
    map_decision_result: str | None = None
    script: str | None = None
    script_format: str | None = None
    script_expression: str | None = None
    script_result_variable: str | None = None
    retry_time_cycle: str | None = None
    async_before: bool = False
    async_after: bool = False
    listeners: tuple[Listener, ...] = ()
    java_delegate: tuple[str, str] | None = None
    pre_script: str | None = None
    post_script: str | None = None

    @property
    def returns_all_child_variables(self) -> bool:
        """Whether every variable a called process ends with comes back to the caller.

        Camunda 8 propagates them all (``propagateAllChildVariables``, default true) only while
        the call activity has no output mappings: with them, only the mapped targets return.
        Camunda 7 returns them all with ``camunda:out variables="all"``, alongside any
        ``camunda:out`` mappings.
        """
        if self.dialect is Dialect.CAMUNDA8 and self.outputs:
            return False
        return self.propagate_all_child_variables


def expression_language(text: str) -> Literal["feel", "juel"] | None:
    """How Modeler marks an expression: ``=...`` is FEEL, ``${...}`` / ``#{...}`` JUEL.

    None means plain text: a static value where a dialect allows one (a Camunda 8 mapping
    source, a process id), else Python.
    """
    if text.lstrip().startswith("="):
        return "feel"
    if "${" in text or "#{" in text:
        return "juel"
    return None


def document_dialect(root: etree._Element) -> Dialect:
    """The dialect a whole file is drawn for: Modeler's execution platform, else the
    extension namespaces it declares."""
    platform = _PLATFORMS.get(root.get(f"{{{MODELER}}}executionPlatform", ""))
    if platform is not None:
        return Dialect(platform)
    declared = set(root.nsmap.values())
    for uri, dialect in (
        (ZEEBE, Dialect.CAMUNDA8),
        (CAMUNDA, Dialect.CAMUNDA7),
        (SPIFF, Dialect.SPIFF),
    ):
        if uri in declared:
            return dialect
    return Dialect.PLAIN


def read_message_correlation(message_element: etree._Element) -> str | None:
    """The correlation key of a ``bpmn:message``: Camunda 8 keeps it on the message
    (``zeebe:subscription correlationKey``), not on the events that catch it."""
    subscription = message_element.find(f"{_EXTENSIONS}/{{{ZEEBE}}}subscription")
    return None if subscription is None else subscription.get("correlationKey")


def read_element_config(element: etree._Element) -> ElementConfig:
    """Read one flow node's extensions in whichever dialect they are written."""
    reading = _Reading()
    reading.read_attributes(element)
    # Camunda 7 puts a message throw event's implementation on its event definition.
    for definition in element.iterchildren(_MESSAGE_DEFINITION):
        reading.read_attributes(definition)
    extensions = element.find(_EXTENSIONS)
    if extensions is not None:
        for child in extensions.iterchildren(etree.Element):
            reading.read_extension(child)
    script = element.find(_SCRIPT)
    if script is not None:
        reading.values["script"] = script.text
    dialect = reading.dialect or document_dialect(element.getroottree().getroot())
    return reading.config(dialect)


class _Reading:
    """Collects field values while walking attributes and extension elements once."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.headers: dict[str, str] = {}
        self.inputs: list[IoMapping] = []
        self.outputs: list[IoMapping] = []
        self.listeners: list[Listener] = []
        self.dialect: Dialect | None = None
        self.c7_in_all = False
        self.c7_out_all = False

    def config(self, dialect: Dialect) -> ElementConfig:
        values = dict(self.values)
        if dialect is Dialect.CAMUNDA7:
            values["propagate_all_parent_variables"] = self.c7_in_all
            values["propagate_all_child_variables"] = self.c7_out_all
            if values.get("called_decision") and not values.get("map_decision_result"):
                values["map_decision_result"] = _C7_RESULT_LIST
        return ElementConfig(
            dialect=dialect,
            headers=self.headers,
            inputs=tuple(self.inputs),
            outputs=tuple(self.outputs),
            listeners=tuple(self.listeners),
            **values,
        )

    def seen(self, dialect: Dialect) -> None:
        if self.dialect is None:
            self.dialect = dialect

    def read_attributes(self, element: etree._Element) -> None:
        attributes = element.attrib
        if attributes.get("calledElement"):
            self.values["called_element"] = attributes["calledElement"]
        if attributes.get("scriptFormat"):
            self.values["script_format"] = attributes["scriptFormat"]
        camunda = {
            name[len(CAMUNDA) + 2 :]: value
            for name, value in attributes.items()
            if name.startswith(f"{{{CAMUNDA}}}")
        }
        if any(name.startswith(f"{{{ZEEBE}}}") for name in attributes):
            self.seen(Dialect.CAMUNDA8)
        if camunda:
            self.seen(Dialect.CAMUNDA7)
            self._read_camunda_attributes(camunda, element.tag == _SCRIPT_TASK)

    def _read_camunda_attributes(self, camunda: dict[str, str], is_script_task: bool) -> None:
        values = self.values
        if camunda.get("type") == "external" and camunda.get("topic"):
            values["job_type"] = camunda["topic"]
        for name in DELEGATE_ATTRIBUTES:
            if camunda.get(name):
                values["java_delegate"] = (name, camunda[name])
        for attribute, key in (
            ("assignee", "assignee"),
            ("candidateGroups", "candidate_groups"),
            ("candidateUsers", "candidate_users"),
            ("dueDate", "due_date"),
            ("followUpDate", "follow_up_date"),
            ("decisionRef", "called_decision"),
            ("mapDecisionResult", "map_decision_result"),
        ):
            if camunda.get(attribute):
                values[key] = camunda[attribute]
        form = camunda.get("formKey") or camunda.get("formRef")
        if form:
            values["form_key"] = form
        if camunda.get("resultVariable"):
            key = "script_result_variable" if is_script_task else "result_variable"
            values[key] = camunda["resultVariable"]
        if _true(camunda.get("asyncBefore")) or _true(camunda.get("async")):
            values["async_before"] = True
        if _true(camunda.get("asyncAfter")):
            values["async_after"] = True

    def read_extension(self, child: etree._Element) -> None:
        qname = etree.QName(child)
        if qname.namespace == ZEEBE:
            self.seen(Dialect.CAMUNDA8)
            self._read_zeebe(qname.localname, child)
        elif qname.namespace == CAMUNDA:
            self.seen(Dialect.CAMUNDA7)
            self._read_camunda(qname.localname, child)
        elif qname.namespace == SPIFF:
            self.seen(Dialect.SPIFF)
            self._read_spiff(qname.localname, child)

    def _read_zeebe(self, name: str, node: etree._Element) -> None:
        values = self.values
        get = node.get
        if name == "taskDefinition":
            _set(values, "job_type", get("type"))
            retries = get("retries")
            if retries is not None and expression_language(retries) == "feel":
                values["retries_expression"] = retries.strip()
            else:
                values["retries"] = _integer(retries)
        elif name == "ioMapping":
            for mapping in node.iterchildren(f"{{{ZEEBE}}}input", f"{{{ZEEBE}}}output"):
                target = self.inputs if etree.QName(mapping).localname == "input" else self.outputs
                target.append(_zeebe_mapping(mapping))
        elif name == "taskHeaders":
            for header in node.iterchildren(f"{{{ZEEBE}}}header"):
                if header.get("key"):
                    self.headers[header.get("key", "")] = header.get("value", "")
        elif name == "calledElement":
            _set(values, "called_element", get("processId") or get("processIdExpression"))
            values["propagate_all_child_variables"] = _true(
                get("propagateAllChildVariables"), default=True
            )
            values["propagate_all_parent_variables"] = _true(
                get("propagateAllParentVariables"), default=True
            )
        elif name == "calledDecision":
            _set(values, "called_decision", get("decisionId"))
            _set(values, "result_variable", get("resultVariable"))
        elif name == "assignmentDefinition":
            _set(values, "assignee", get("assignee"))
            _set(values, "candidate_groups", get("candidateGroups"))
            _set(values, "candidate_users", get("candidateUsers"))
        elif name == "formDefinition":
            _set(values, "form_key", get("formKey") or get("formId") or get("externalReference"))
        elif name == "taskSchedule":
            _set(values, "due_date", get("dueDate"))
            _set(values, "follow_up_date", get("followUpDate"))
        elif name == "script":
            _set(values, "script_expression", get("expression"))
            _set(values, "script_result_variable", get("resultVariable"))
        else:
            self.listeners.extend(read_zeebe_listeners(name, node))

    def _read_camunda(self, name: str, node: etree._Element) -> None:
        if name == "inputOutput":
            for parameter in node.iterchildren(
                f"{{{CAMUNDA}}}inputParameter", f"{{{CAMUNDA}}}outputParameter"
            ):
                target = (
                    self.inputs
                    if etree.QName(parameter).localname == "inputParameter"
                    else self.outputs
                )
                target.append(_camunda_mapping(parameter.get("name", ""), parameter))
        elif name in ("in", "out"):
            self._read_camunda_binding(name, node)
        elif name == "failedJobRetryTimeCycle" and node.text and node.text.strip():
            cycle = node.text.strip()
            self.values["retry_time_cycle"] = cycle
            self.values["retries"] = _retries_of_cycle(cycle)
        elif name == "connector":
            connector = node.findtext(f"{{{CAMUNDA}}}connectorId") or "connector"
            self.values["java_delegate"] = ("connector", connector.strip())
        elif name == "properties":
            # Camunda 7's extension properties are what Camunda 8 calls task headers.
            for prop in node.iter(f"{{{CAMUNDA}}}property"):
                if prop.get("name"):
                    self.headers[prop.get("name", "")] = prop.get("value", "")
        elif (listener := read_camunda_listener(name, node)) is not None:
            self.listeners.append(listener)

    def _read_camunda_binding(self, name: str, node: etree._Element) -> None:
        if node.get("variables") == "all":
            if name == "in":
                self.c7_in_all = True
            else:
                self.c7_out_all = True
            return
        target = node.get("target")
        if not target:
            return
        mappings = self.inputs if name == "in" else self.outputs
        if node.get("sourceExpression"):
            expression = node.get("sourceExpression", "")
            mappings.append(IoMapping(target, expression, "expression", expression.strip()))
        elif node.get("source"):
            source = node.get("source", "")
            mappings.append(IoMapping(target, source, "expression", f"${{{source}}}"))

    def _read_spiff(self, name: str, node: etree._Element) -> None:
        values = self.values
        if name == "serviceTaskOperator":
            _set(values, "job_type", node.get("id"))
            _set(values, "result_variable", node.get("resultVariable"))
            for parameter in node.iter(f"{{{SPIFF}}}parameter"):
                value = parameter.get("value")
                if parameter.get("id") and value is not None:
                    self.inputs.append(
                        IoMapping(parameter.get("id", ""), value, "expression", value)
                    )
            retry = next(node.iter(f"{{{SPIFF}}}retry"), None)
            if retry is not None:
                values["retries"] = _integer(retry.get("retries"))
        elif name == "calledDecisionId":
            _set(values, "called_decision", _text(node))
        elif name == "preScript":
            _set(values, "pre_script", node.text)
        elif name == "postScript":
            _set(values, "post_script", node.text)


def _zeebe_mapping(node: etree._Element) -> IoMapping:
    """Camunda 8: a source starting with ``=`` is a FEEL expression, anything else a string."""
    source = node.get("source")
    target = node.get("target", "")
    if source is not None and expression_language(source) == "feel":
        return IoMapping(target, source, "expression", source.strip())
    return IoMapping(target, source, "literal", source)


def _camunda_mapping(target: str, holder: etree._Element) -> IoMapping:
    """Camunda 7: a parameter (or map entry) holds text, or one list, map or script."""
    definition = next(holder.iterchildren(etree.Element), None)
    if definition is None:
        return _camunda_text(target, holder)
    return _camunda_definition(target, definition)


def _camunda_definition(target: str, definition: etree._Element) -> IoMapping:
    kind = etree.QName(definition).localname
    if kind == "list":
        items = tuple(
            _camunda_definition(str(position), item)
            for position, item in enumerate(definition.iterchildren(etree.Element))
        )
        return IoMapping(target, None, "list", items)
    if kind == "map":
        entries = tuple(
            _camunda_mapping(entry.get("key", ""), entry)
            for entry in definition.iterchildren(f"{{{CAMUNDA}}}entry")
        )
        return IoMapping(target, None, "map", entries)
    if kind == "script":
        return IoMapping(target, definition.text, "expression", _text(definition))
    return _camunda_text(target, definition)


def _camunda_text(target: str, node: etree._Element) -> IoMapping:
    """Text with ``${}`` or ``#{}`` is JUEL (possibly composite); any other text a literal."""
    text = node.text
    if text is not None and expression_language(text) == "juel":
        return IoMapping(target, text, "expression", text.strip())
    return IoMapping(target, text, "literal", text)


def _retries_of_cycle(cycle: str) -> int | None:
    """``R3/PT5M`` allows 3 retries; a list ``PT1M,PT5M,PT10M`` one per interval."""
    counted = _RETRY_COUNT.match(cycle)
    if counted:
        return int(counted.group(1))
    if not cycle.startswith("R"):
        return len([part for part in cycle.split(",") if part.strip()])
    return None


def _set(values: dict[str, Any], key: str, value: str | None) -> None:
    if value:
        values[key] = value


def _text(node: etree._Element) -> str | None:
    return node.text.strip() if node.text and node.text.strip() else None


def _integer(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _true(value: str | None, *, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("true", "1")
