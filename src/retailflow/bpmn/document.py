"""A parsed process or decision file with the index a deployment needs from it.

The index answers deployment questions without walking the XML again: which processes a file
holds, which messages, signals and errors it defines, and what each process calls, starts on
and hands to workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

from lxml import etree

from retailflow.bpmn.extensions import (
    Dialect,
    document_dialect,
    expression_language,
    read_element_config,
    read_message_correlation,
)
from retailflow.bpmn.namespaces import BPMN, DMN_MODELS, bpmn_tag
from retailflow.bpmn.sources import SourceFile
from retailflow.bpmn.xml import MAX_BYTES, MAX_DEPTH, parse_document
from retailflow.model import DeploymentError, Finding, Severity

_DEFINITIONS = bpmn_tag("definitions")
_START_EVENT = bpmn_tag("startEvent")
_CALL_ACTIVITY = bpmn_tag("callActivity")
_BUSINESS_RULE_TASK = bpmn_tag("businessRuleTask")
_MESSAGE_DEFINITION = bpmn_tag("messageEventDefinition")
_SIGNAL_DEFINITION = bpmn_tag("signalEventDefinition")
_TIMER_DEFINITION = bpmn_tag("timerEventDefinition")
JOB_ELEMENTS = frozenset(
    bpmn_tag(name)
    for name in (
        "serviceTask",
        "sendTask",
        "businessRuleTask",
        "scriptTask",
        "intermediateThrowEvent",
        "endEvent",
    )
)
"""Elements a Camunda dialect can hand to a worker as a job."""


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """One ``bpmn:process`` and what it depends on.

    ``called_processes``, ``called_decisions`` and ``job_types`` hold static ids only (an
    expression is resolved at run time); ``message_starts`` and ``signal_starts`` are the names
    its start events wait for, ``timer_starts`` the ids of its timer start events.
    """

    id: str
    name: str | None
    executable: bool
    line: int | None
    element: etree._Element = field(compare=False, repr=False)
    called_processes: tuple[str, ...] = ()
    called_decisions: tuple[str, ...] = ()
    message_starts: tuple[str, ...] = ()
    signal_starts: tuple[str, ...] = ()
    timer_starts: tuple[str, ...] = ()
    job_types: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False, slots=True)
class BpmnDocument:
    """A parsed ``.bpmn`` file: its processes and the global definitions they refer to.

    ``errors`` and ``escalations`` map an id to ``(name, code)``; ``correlation_keys`` maps a
    message id to its Camunda 8 ``zeebe:subscription`` correlation key.
    """

    name: str
    content_hash: str
    tree: etree._ElementTree = field(repr=False)
    dialect: Dialect
    processes: tuple[ProcessInfo, ...]
    messages: dict[str, str | None]
    signals: dict[str, str | None]
    errors: dict[str, tuple[str | None, str | None]]
    escalations: dict[str, tuple[str | None, str | None]]
    correlation_keys: dict[str, str]

    def process(self, process_id: str) -> ProcessInfo | None:
        """The process with this id, if the file holds it."""
        return next((info for info in self.processes if info.id == process_id), None)

    @property
    def root(self) -> etree._Element:
        """The ``bpmn:definitions`` element."""
        return self.tree.getroot()


@dataclass(frozen=True, eq=False, slots=True)
class DmnDocument:
    """A parsed ``.dmn`` file, indexed only by decision id (``decisions`` maps id to name):
    evaluating it is ``retailflow.decisions``' job."""

    name: str
    content_hash: str
    tree: etree._ElementTree = field(repr=False)
    namespace: str
    decisions: dict[str, str | None]

    @property
    def root(self) -> etree._Element:
        """The DMN ``definitions`` element."""
        return self.tree.getroot()

    @property
    def decision_ids(self) -> tuple[str, ...]:
        """The decisions a business rule task may call, in file order."""
        return tuple(self.decisions)


def read_document(
    source: SourceFile, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH
) -> BpmnDocument | DmnDocument:
    """Parse one source file safely and index it, or raise ``DeploymentError``."""
    tree = parse_document(
        source.content, file=source.name, max_bytes=max_bytes, max_depth=max_depth
    )
    root = tree.getroot()
    namespace = etree.QName(root).namespace
    if source.kind == "dmn":
        if etree.QName(root).localname != "definitions" or namespace not in DMN_MODELS:
            _wrong_document(source, root, "DMN <definitions> (DMN 1.1 to 1.5)")
        return DmnDocument(
            source.name,
            source.content_hash,
            tree,
            namespace or "",
            _index_decisions(root, namespace or ""),
        )
    if root.tag != _DEFINITIONS:
        _wrong_document(source, root, f"BPMN 2.0 <definitions> in namespace {BPMN}")
    messages = _index_names(root, "message")
    signals = _index_names(root, "signal")
    correlation_keys = {
        message.get("id", ""): key
        for message in root.iterchildren(bpmn_tag("message"))
        if message.get("id") and (key := read_message_correlation(message))
    }
    processes = tuple(
        _index_process(process, messages, signals)
        for process in root.iterchildren(bpmn_tag("process"))
        if process.get("id")
    )
    return BpmnDocument(
        name=source.name,
        content_hash=source.content_hash,
        tree=tree,
        dialect=document_dialect(root),
        processes=processes,
        messages=messages,
        signals=signals,
        errors=_index_codes(root, "error", "errorCode"),
        escalations=_index_codes(root, "escalation", "escalationCode"),
        correlation_keys=correlation_keys,
    )


def is_executable(process: etree._Element) -> bool:
    """``isExecutable`` as SpiffWorkflow reads it: absent means executable."""
    return process.get("isExecutable", "true").strip() in ("true", "1")


def _index_process(
    process: etree._Element, messages: dict[str, str | None], signals: dict[str, str | None]
) -> ProcessInfo:
    called_processes: dict[str, None] = {}
    called_decisions: dict[str, None] = {}
    job_types: dict[str, None] = {}
    for element in process.iter(*JOB_ELEMENTS, _CALL_ACTIVITY):
        config = read_element_config(element)
        if config.called_element and _static(config.called_element):
            called_processes[config.called_element] = None
        if config.called_decision and _static(config.called_decision):
            called_decisions[config.called_decision] = None
        if config.job_type and _static(config.job_type):
            job_types[config.job_type] = None
    message_starts: list[str] = []
    signal_starts: list[str] = []
    timer_starts: list[str] = []
    for start in process.iterchildren(_START_EVENT):
        for definition in start.iterchildren(_MESSAGE_DEFINITION):
            name = messages.get(definition.get("messageRef", ""))
            if name:
                message_starts.append(name)
        for definition in start.iterchildren(_SIGNAL_DEFINITION):
            name = signals.get(definition.get("signalRef", ""))
            if name:
                signal_starts.append(name)
        if start.find(_TIMER_DEFINITION) is not None and start.get("id"):
            timer_starts.append(start.get("id", ""))
    return ProcessInfo(
        id=process.get("id", ""),
        name=process.get("name"),
        executable=is_executable(process),
        line=process.sourceline,
        element=process,
        called_processes=tuple(called_processes),
        called_decisions=tuple(called_decisions),
        message_starts=tuple(message_starts),
        signal_starts=tuple(signal_starts),
        timer_starts=tuple(timer_starts),
        job_types=tuple(job_types),
    )


def _static(text: str) -> bool:
    return expression_language(text) is None


def _index_names(root: etree._Element, local_name: str) -> dict[str, str | None]:
    return {
        element.get("id", ""): element.get("name")
        for element in root.iterchildren(bpmn_tag(local_name))
        if element.get("id")
    }


def _index_codes(
    root: etree._Element, local_name: str, code: str
) -> dict[str, tuple[str | None, str | None]]:
    return {
        element.get("id", ""): (element.get("name"), element.get(code))
        for element in root.iterchildren(bpmn_tag(local_name))
        if element.get("id")
    }


def _index_decisions(root: etree._Element, namespace: str) -> dict[str, str | None]:
    return {
        decision.get("id", ""): decision.get("name")
        for decision in root.iterchildren(f"{{{namespace}}}decision")
        if decision.get("id")
    }


def _wrong_document(source: SourceFile, root: etree._Element, expected: str) -> NoReturn:
    raise DeploymentError(
        [
            Finding(
                Severity.ERROR,
                "wrong-document",
                f"a .{source.kind} file must hold {expected}, not <{root.tag}>",
                file=source.name,
                line=root.sourceline,
                hint="check that the file was saved from the right Camunda Modeler editor",
            )
        ]
    )
