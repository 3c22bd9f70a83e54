"""Execution and task listeners, read from either dialect into one ``Listener``.

Camunda 7 writes ``camunda:executionListener`` / ``camunda:taskListener`` with a ``class``,
``delegateExpression``, ``expression`` or a ``camunda:script`` child; Camunda 8 writes
``zeebe:executionListeners`` / ``zeebe:taskListeners`` holding listeners with a job ``type``.
Camunda 8's task listener events (``creating``, ``assigning``, ``completing`` ...) are read as
Camunda 7's names (``create``, ``assignment``, ``complete``) so the engine knows one vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lxml import etree

from retailflow.bpmn.namespaces import CAMUNDA, ZEEBE

ListenerKind = Literal["execution", "task"]

DELEGATE_ATTRIBUTES = ("class", "delegateExpression", "expression")
"""How Camunda 7 names the Java code behind a delegate or a listener, in the order it reads
them."""

EXECUTION_EVENTS = frozenset({"start", "end"})
"""Execution listener events the engine fires on flow nodes and processes."""
FLOW_EVENTS = frozenset({"take"})
"""Execution listener events the engine fires on sequence flows."""
TASK_EVENTS = frozenset({"create", "assignment", "complete"})
"""Task listener events the engine fires on user tasks."""
_ZEEBE_TASK_EVENTS = {
    "creating": "create",
    "assigning": "assignment",
    "completing": "complete",
    "updating": "update",
    "canceling": "delete",
}
_CAMUNDA_LISTENERS = {"executionListener": "execution", "taskListener": "task"}
_ZEEBE_LISTENERS = {"executionListeners": "execution", "taskListeners": "task"}


@dataclass(frozen=True, slots=True)
class Listener:
    """One listener of one element.

    Exactly one of ``delegate`` (Camunda 7: ``(attribute, value)`` such as
    ``("class", "com.acme.Audit")``), ``job_type`` (Camunda 8), ``script`` (Camunda 7 inline
    script, with its ``script_format``) or ``script_resource`` (an external script, which
    cannot run) is set; none when the file names nothing to call. ``line`` is where the
    listener is written, for findings.
    """

    kind: ListenerKind
    event: str
    delegate: tuple[str, str] | None = None
    job_type: str | None = None
    script: str | None = None
    script_format: str | None = None
    script_resource: str | None = None
    line: int | None = None

    @property
    def name(self) -> str:
        """What the listener calls, as written (for history rows and messages)."""
        if self.delegate is not None:
            return self.delegate[1]
        if self.job_type is not None:
            return self.job_type
        return f"{self.script_format or 'script'} script"


def read_camunda_listener(name: str, node: etree._Element) -> Listener | None:
    """A ``camunda:executionListener`` or ``camunda:taskListener``; None for anything else."""
    kind = _CAMUNDA_LISTENERS.get(name)
    if kind is None:
        return None
    delegate = next(
        (
            (attribute, node.get(attribute, ""))
            for attribute in DELEGATE_ATTRIBUTES
            if node.get(attribute)
        ),
        None,
    )
    script = node.find(f"{{{CAMUNDA}}}script")
    return Listener(
        kind="execution" if kind == "execution" else "task",
        event=(node.get("event") or "").strip(),
        delegate=delegate,
        script=None if script is None else (script.text or ""),
        script_format=None if script is None else script.get("scriptFormat"),
        script_resource=None if script is None else script.get("resource"),
        line=node.sourceline,
    )


def read_zeebe_listeners(name: str, node: etree._Element) -> list[Listener]:
    """The listeners inside ``zeebe:executionListeners`` / ``zeebe:taskListeners``."""
    kind = _ZEEBE_LISTENERS.get(name)
    if kind is None:
        return []
    child_tag = f"{{{ZEEBE}}}{'executionListener' if kind == 'execution' else 'taskListener'}"
    return [_zeebe_listener(child) for child in node.iterchildren(child_tag)]


def read_listener(element: etree._Element) -> Listener | None:
    """One listener element of either dialect (the checks look at each where it is written);
    None for any other element."""
    qname = etree.QName(element)
    if qname.namespace == CAMUNDA:
        return read_camunda_listener(qname.localname, element)
    if qname.namespace == ZEEBE and qname.localname in ("executionListener", "taskListener"):
        return _zeebe_listener(element)
    return None


def _zeebe_listener(child: etree._Element) -> Listener:
    task = etree.QName(child).localname == "taskListener"
    event = (child.get("eventType") or "").strip()
    return Listener(
        kind="task" if task else "execution",
        event=_ZEEBE_TASK_EVENTS.get(event, event) if task else event,
        job_type=(child.get("type") or "").strip() or None,
        line=child.sourceline,
    )
