"""The event log as CSV: one row per event, the columns process-mining tools map by name."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO

from retailflow.event_log.events import LogEvent

CSV_COLUMNS = ("case_id", "activity", "lifecycle", "timestamp", "resource")


def write_csv(events: Iterable[LogEvent], stream: IO[str]) -> int:
    """Write a header and one row per event (ISO 8601 timestamps, empty resource when
    unknown); returns how many events were written."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    written = 0
    for event in events:
        writer.writerow(
            (
                event.case_id,
                event.activity,
                event.lifecycle,
                event.timestamp.isoformat(),
                event.resource or "",
            )
        )
        written += 1
    return written
