"""The engine's history as event-log rows: one per element entered (``start``) or completed
(``complete``), with the case, the activity's name as drawn and the time.

Process mining tools want activity names, not ids, and one case per process instance; the
history stores ids and instance ids, so the names come from the deployed files (read once per
definition) and the business key from the instance (read once per case).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from retailflow.bpmn.namespaces import BPMN
from retailflow.bpmn.xml import parse_document
from retailflow.model import HistoryEvent, HistoryKind
from retailflow.stores import Store

LIFECYCLES = {HistoryKind.ELEMENT_ENTERED: "start", HistoryKind.ELEMENT_COMPLETED: "complete"}
"""History kinds that are events of the log, and their XES ``lifecycle:transition``."""


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One event of the log. ``resource`` is who did it, when the history knows: the person
    who completed a user task through the cockpit or REST API (the token's name); ``None``
    for what the engine did on its own."""

    event_id: str
    case_id: str
    business_key: str | None
    process_id: str
    activity: str
    element_id: str
    lifecycle: str
    timestamp: datetime
    resource: str | None = None


def read_event_log(
    store: Store, *, process_id: str | None = None, since: datetime | None = None
) -> Iterator[LogEvent]:
    """The log's events, case by case (each case's events in the order they happened), read
    from the store in pages: only instances of ``process_id`` when given, only events at or
    after ``since``."""
    definitions = {d.id: d for d in store.list_definitions()}
    wanted = (
        None
        if process_id is None
        else {d.id for d in definitions.values() if d.process_id == process_id}
    )
    names = _ElementNames(store)
    case: tuple[str, str | None] | None = None
    for event in store.history_by_instance(definition_ids=wanted, since=since):
        lifecycle = LIFECYCLES.get(event.kind)
        if lifecycle is None or event.element_id is None:
            continue
        if case is None or case[0] != event.instance_id:
            case = (event.instance_id, store.get_instance(event.instance_id).business_key)
        definition = definitions.get(event.definition_id)
        yield LogEvent(
            event_id=f"{event.instance_id}-{event.seq}",
            case_id=event.instance_id,
            business_key=case[1],
            process_id=definition.process_id if definition else event.definition_id,
            activity=names.of(event),
            element_id=event.element_id,
            lifecycle=lifecycle,
            timestamp=event.at,
            resource=event.actor if _done_by_a_person(event) else None,
        )


def _done_by_a_person(event: HistoryEvent) -> bool:
    """A user task's completion is the person's work; the other rows of their step (the
    elements the engine entered next) are not, though they carry the same actor."""
    return event.kind == HistoryKind.ELEMENT_COMPLETED and event.element_type == "userTask"


class _ElementNames:
    """Element names as drawn, per definition, read from its deployed files on first use."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._names: dict[str, dict[tuple[str | None, str], str]] = {}

    def of(self, event: HistoryEvent) -> str:
        names = self._names.get(event.definition_id)
        if names is None:
            names = self._names[event.definition_id] = self._read(event.definition_id)
        element_id = event.element_id or ""
        return (
            names.get((event.process_id, element_id)) or names.get((None, element_id)) or element_id
        )

    def _read(self, definition_id: str) -> dict[tuple[str | None, str], str]:
        """``(process id, element id)`` -> name, and ``(None, element id)`` for rows written
        before history carried the process id (the first process naming it wins). Decision
        files hold no ``bpmn:process`` and add nothing."""
        names: dict[tuple[str | None, str], str] = {}
        definition = self._store.get_definition(definition_id)
        for content_hash in definition.resource_hashes:
            resource = self._store.get_resource(content_hash)
            root = parse_document(resource.content, file=resource.name).getroot()
            for process in root.iter(f"{{{BPMN}}}process"):
                for element in process.iter(etree.Element):
                    element_id, name = element.get("id"), element.get("name")
                    if element_id and name and name.strip():
                        shown = " ".join(name.split())  # Modeler labels may hold line breaks
                        names[(process.get("id"), element_id)] = shown
                        names.setdefault((None, element_id), shown)
        return names
