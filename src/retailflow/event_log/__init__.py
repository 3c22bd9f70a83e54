"""Process mining: the engine's history written as an event log (XES, CSV or OCEL 2.0).

``export_event_log`` reads the history case by case in pages and writes as it reads, so a log
of any size streams from the database to the file.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import IO, Literal

from retailflow.event_log.csv_log import CSV_COLUMNS, write_csv
from retailflow.event_log.events import LogEvent, read_event_log
from retailflow.event_log.ocel import write_ocel
from retailflow.event_log.xes import write_xes
from retailflow.stores import Store

LogFormat = Literal["xes", "csv", "ocel"]


def export_event_log(
    store: Store,
    log_format: LogFormat,
    stream: IO[bytes],
    *,
    process_id: str | None = None,
    since: datetime | None = None,
) -> int:
    """Write the history of ``store`` to ``stream`` (binary) as ``log_format``; returns the
    number of events written. ``process_id`` keeps the instances of one process, ``since``
    the events at or after a moment."""
    events = read_event_log(store, process_id=process_id, since=since)
    if log_format == "xes":
        return write_xes(events, stream)
    if log_format == "ocel":
        return write_ocel(events, stream)
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
    try:
        return write_csv(events, text)
    finally:
        text.detach()  # the caller owns the binary stream


__all__ = [
    "CSV_COLUMNS",
    "LogEvent",
    "LogFormat",
    "export_event_log",
    "read_event_log",
    "write_csv",
    "write_ocel",
    "write_xes",
]
