"""OCEL 2.0 JSON: the object-centric event log, where an event relates to several objects.

The objects are the process instances (type ``instance``) and their business keys (type
``business_key``: an order number shared by the order's fulfilment, return and complaint
instances). Events stream out as they are read; the object and type lists, which grow with the
number of instances rather than of events, follow them (JSON does not order an object's keys).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

import orjson

from retailflow.event_log.events import LogEvent

INSTANCE = "instance"
BUSINESS_KEY = "business_key"


def write_ocel(events: Iterable[LogEvent], stream: IO[bytes]) -> int:
    """Write the log as one OCEL 2.0 JSON document; returns how many events were written."""
    activities: dict[str, None] = {}
    instances: dict[str, LogEvent] = {}
    written = 0
    stream.write(b'{"events": [')
    for event in events:
        activities.setdefault(event.activity)
        instances.setdefault(event.case_id, event)
        stream.write((b",\n" if written else b"\n") + orjson.dumps(_event(event)))
        written += 1
    stream.write(b"\n],\n")
    keys = {first.business_key for first in instances.values() if first.business_key}
    rest = {
        "eventTypes": [
            {
                "name": name,
                "attributes": [
                    {"name": "lifecycle", "type": "string"},
                    {"name": "element_id", "type": "string"},
                ],
            }
            for name in activities
        ],
        "objectTypes": [
            {"name": INSTANCE, "attributes": [{"name": "process", "type": "string"}]},
            {"name": BUSINESS_KEY, "attributes": []},
        ],
        "objects": [_instance(first) for first in instances.values()]
        + [{"id": _key_id(key), "type": BUSINESS_KEY} for key in sorted(keys)],
    }
    stream.write(orjson.dumps(rest)[1:])  # the remaining keys of the same JSON object
    return written


def _event(event: LogEvent) -> dict[str, Any]:
    relationships = [{"objectId": event.case_id, "qualifier": "case"}]
    if event.business_key:
        relationships.append({"objectId": _key_id(event.business_key), "qualifier": "business key"})
    return {
        "id": event.event_id,
        "type": event.activity,
        "time": event.timestamp.isoformat(),
        "attributes": [
            {"name": "lifecycle", "value": event.lifecycle},
            {"name": "element_id", "value": event.element_id},
        ],
        "relationships": relationships,
    }


def _instance(first: LogEvent) -> dict[str, Any]:
    instance: dict[str, Any] = {
        "id": first.case_id,
        "type": INSTANCE,
        "attributes": [
            {"name": "process", "time": first.timestamp.isoformat(), "value": first.process_id}
        ],
    }
    if first.business_key:
        instance["relationships"] = [
            {"objectId": _key_id(first.business_key), "qualifier": "business key"}
        ]
    return instance


def _key_id(business_key: str) -> str:
    """Business keys get a prefix so one can never collide with an instance id."""
    return f"key:{business_key}"
