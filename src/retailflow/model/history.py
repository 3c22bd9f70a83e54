"""Append-only history: one row per element entered, completed or failed, per sequence flow
taken and per decision evaluated."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple


class HistoryKind(StrEnum):
    """What happened to an element (or to the instance as a whole)."""

    INSTANCE_STARTED = "instance_started"
    INSTANCE_COMPLETED = "instance_completed"
    INSTANCE_CANCELLED = "instance_cancelled"
    ELEMENT_ENTERED = "element_entered"
    ELEMENT_COMPLETED = "element_completed"
    JOB_FAILED = "job_failed"
    BPMN_ERROR_THROWN = "bpmn_error_thrown"
    INCIDENT_OPENED = "incident_opened"
    INCIDENT_RESOLVED = "incident_resolved"
    SEQUENCE_FLOW_TAKEN = "sequence_flow_taken"
    DECISION_EVALUATED = "decision_evaluated"
    MESSAGE_CORRELATED = "message_correlated"
    SIGNAL_RECEIVED = "signal_received"
    TIMER_FIRED = "timer_fired"
    LISTENER_INVOKED = "listener_invoked"
    VARIABLES_SET = "variables_set"


class StepEvent(NamedTuple):
    """The part of a ``HistoryEvent`` that KPIs read (``Store.step_history``): a plain tuple,
    since a KPI pass reads hundreds of thousands of them. ``at`` is aware, not necessarily in
    UTC (PostgreSQL's come in the session's zone): compare and subtract it, do not print it."""

    seq: int
    instance_id: str
    kind: HistoryKind
    at: datetime
    element_id: str | None
    element_type: str | None
    process_id: str | None


STEP_KINDS = frozenset(
    {HistoryKind.ELEMENT_ENTERED, HistoryKind.ELEMENT_COMPLETED, HistoryKind.INCIDENT_OPENED}
)
"""The events KPIs read (``Store.step_history``): entries and completions, paired into step
durations, and opened incidents."""


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One step of one instance; KPIs, process mining and coverage all read these rows.

    ``seq`` is assigned by the store on append and orders the events of an instance.
    ``variables`` holds what the step changed (for completions) or the rules hit (for decisions:
    ``decision_id``, ``rule_ids`` and 1-based ``rule_numbers``, with ``element_id`` the business
    rule task). A ``sequence_flow_taken`` row names the flow in ``element_id`` and follows the
    completion of the flow's source. ``process_id`` is the BPMN process an element row's
    element belongs to: the instance's own, or a called process's, whose element ids may repeat
    the caller's (``None`` on rows of the instance as a whole, and on rows written before 0.2).
    ``actor`` is who took the step when a person did (a cockpit or API token's name, see
    ``retailflow.engine.acting_as``); on every row of that step.
    """

    instance_id: str
    definition_id: str
    kind: HistoryKind
    at: datetime
    element_id: str | None = None
    element_type: str | None = None
    attempt: int | None = None
    job_id: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    process_id: str | None = None
    seq: int | None = None
    actor: str | None = None
