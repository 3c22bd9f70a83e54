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


VariableMatch = str | int | float | bool
"""A value an instance search compares a variable with: a JSON scalar, matched exactly."""


@dataclass(frozen=True, slots=True)
class InstanceQuery:
    """Which instances an instance search returns, a page at a time.

    Every given filter must hold. ``started_from`` is inclusive, ``started_until`` exclusive.
    ``variable`` is a ``(name, value)`` pair the instance's latest variables must hold
    exactly. Pages are keyset pages in start order (oldest first, or newest first with
    ``newest_first``): ``after`` is the id of the last instance of the previous page, so a
    page costs an index range read however deep it is and however many instances start
    meanwhile.
    """

    process_id: str | None = None
    status: InstanceStatus | None = None
    business_key: str | None = None
    variable: tuple[str, VariableMatch] | None = None
    started_from: datetime | None = None
    started_until: datetime | None = None
    limit: int | None = None
    after: str | None = None
    newest_first: bool = False
