"""XES (IEEE 1849-2016), the event-log format every process-mining tool reads.

Written with lxml's incremental writer, one trace at a time, so the file streams: a trace is
closed as soon as the next case's first event arrives (the events come grouped by case).
Elements carry no XML namespace, as pm4py writes XES: with lxml's incremental writer a default
namespace would be declared again on every element, which pm4py's streaming reader (lxml
iterparse clearing elements as it goes) fails on in large files.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import IO

from lxml import etree

from retailflow.event_log.events import LogEvent

_EXTENSIONS = (
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
)


def write_xes(events: Iterable[LogEvent], stream: IO[bytes]) -> int:
    """Write the log to ``stream``; returns how many events were written.

    Each trace (case) is a process instance: ``concept:name`` is the instance id, with the
    ``business_key`` and ``process`` as trace attributes. Each event carries ``concept:name``
    (the activity), ``lifecycle:transition`` (``start``/``complete``), ``time:timestamp``, the
    ``element_id`` and, when known, ``org:resource``.
    """
    written = 0
    with etree.xmlfile(stream, encoding="utf-8") as xml:
        xml.write_declaration()
        with xml.element("log", {"xes.version": "1849-2016", "xes.features": ""}):
            xml.write("\n")
            _write_header(xml)
            for _, case_events in itertools.groupby(events, key=lambda event: event.case_id):
                first = next(case_events)
                with xml.element("trace"):
                    _write_case(xml, first)
                    for event in itertools.chain([first], case_events):
                        xml.write(_event_element(event), "\n")
                        written += 1
                xml.write("\n")
    return written


def _write_header(xml: etree._IncrementalFileWriter) -> None:
    for name, prefix, uri in _EXTENSIONS:
        xml.write(_element("extension", name=name, prefix=prefix, uri=uri), "\n")
    trace_globals = _element("global", scope="trace")
    _attribute(trace_globals, "string", "concept:name", "UNKNOWN")
    event_globals = _element("global", scope="event")
    _attribute(event_globals, "string", "concept:name", "UNKNOWN")
    _attribute(event_globals, "string", "lifecycle:transition", "complete")
    _attribute(event_globals, "date", "time:timestamp", "1970-01-01T00:00:00.000+00:00")
    xml.write(trace_globals, "\n", event_globals, "\n")
    xml.write(_element("classifier", name="Activity", keys="concept:name"), "\n")
    xml.write(
        _element(
            "classifier", name="Activity and lifecycle", keys="concept:name lifecycle:transition"
        ),
        "\n",
    )


def _write_case(xml: etree._IncrementalFileWriter, event: LogEvent) -> None:
    xml.write("\n", _element("string", key="concept:name", value=event.case_id), "\n")
    xml.write(_element("string", key="process", value=event.process_id), "\n")
    if event.business_key is not None:
        xml.write(_element("string", key="business_key", value=event.business_key), "\n")


def _event_element(event: LogEvent) -> etree._Element:
    element = _element("event")
    _attribute(element, "string", "concept:name", event.activity)
    _attribute(element, "string", "lifecycle:transition", event.lifecycle)
    _attribute(
        element, "date", "time:timestamp", event.timestamp.isoformat(timespec="milliseconds")
    )
    _attribute(element, "string", "element_id", event.element_id)
    if event.resource is not None:
        _attribute(element, "string", "org:resource", event.resource)
    return element


def _element(tag: str, **attributes: str) -> etree._Element:
    return etree.Element(tag, attributes)


def _attribute(parent: etree._Element, kind: str, key: str, value: str) -> None:
    """An XES attribute: its type is the tag (``string``, ``date``), its name the ``key``."""
    etree.SubElement(parent, kind, key=key, value=value)
