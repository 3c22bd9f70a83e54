"""A running (or finished) process instance as the store keeps it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class InstanceStatus(StrEnum):
    """Where an instance is in its life."""

    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass(slots=True)
class Instance:
    """One execution of a process definition.

    ``version`` is the optimistic lock: every committed change bumps it, and a writer that read an
    older version is refused. ``variables`` is a snapshot of the process-level data after the last
    committed step, for queries and display.
    """

    id: str
    definition_id: str
    process_id: str
    business_key: str | None
    status: InstanceStatus
    started_at: datetime
    version: int = 0
    ended_at: datetime | None = None
    parent_id: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
