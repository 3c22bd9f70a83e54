"""The heatmap and the instance view say, on the diagram, what the KPIs and the store say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from retailflow.diagram.heatmap import heatmap
from retailflow.diagram.instance_state import InstanceRecords, instance_overlay
from retailflow.model import (
    HistoryEvent,
    HistoryKind,
    Incident,
    Job,
    JobKind,
    ProcessKpis,
    Subscription,
    SubscriptionKind,
)
from retailflow.model.kpis import KpiWindow, StepKpis

T0 = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)


def step(
    element_id: str,
    entered: int,
    p90: timedelta | None,
    process: str = "p",
    kind: str = "task",
    completed: int | None = None,
) -> StepKpis:
    done = entered if completed is None else completed
    return StepKpis(element_id, None, kind, process, entered, done, p90, p90, 1.0)


def test_heatmap_badges_traffic_notes_p90_and_shades_the_busiest_darkest() -> None:
    kpis = ProcessKpis(
        "p",
        KpiWindow(None, T0),
        10,
        8,
        0,
        2,
        1,
        0.1,
        None,
        None,
        steps=[
            step("busy", 10, timedelta(hours=3)),
            step("quiet", 1, None),
            step("never", 0, None),
            step("in_called_process", 50, None, process="other"),
            step("armed_often_fired_twice", 10, None, kind="boundaryEvent", completed=2),
            step("armed_never_fired", 10, None, kind="boundaryEvent", completed=0),
        ],
    )
    overlay = heatmap(kpis)
    assert set(overlay.marks) == {"busy", "quiet", "armed_often_fired_twice"}
    assert overlay.mark("armed_often_fired_twice").badge == "2"
    busy, quiet = overlay.mark("busy"), overlay.mark("quiet")
    assert (busy.badge, busy.note, quiet.badge, quiet.note) == ("10", "p90 3.0h", "1", None)
    assert busy.fill == "#ea580c" and quiet.fill != busy.fill


def event(kind: HistoryKind, element_id: str, element_type: str = "task") -> HistoryEvent:
    return HistoryEvent("i", "d", kind, T0, element_id=element_id, element_type=element_type)


def test_instance_overlay_marks_the_path_the_waits_with_what_they_wait_for_and_incidents() -> None:
    history = [
        event(HistoryKind.ELEMENT_ENTERED, "start"),
        event(HistoryKind.ELEMENT_COMPLETED, "start"),
        event(HistoryKind.SEQUENCE_FLOW_TAKEN, "flow_1"),
        event(HistoryKind.ELEMENT_ENTERED, "split"),
        event(HistoryKind.ELEMENT_COMPLETED, "split"),
        event(HistoryKind.ELEMENT_ENTERED, "reserve"),
        event(HistoryKind.ELEMENT_ENTERED, "payment", "intermediateCatchEvent"),
        event(HistoryKind.ELEMENT_ENTERED, "reminder", "boundaryEvent"),
        # A boundary event of an activity that ended: entered, never completed, not waiting.
        event(HistoryKind.ELEMENT_ENTERED, "stale_boundary", "boundaryEvent"),
    ]
    records = InstanceRecords(
        history,
        jobs=[
            Job("j1", "i", JobKind.SERVICE, "reserve", T0, topic="stock.reserve", retries_left=0),
            Job("j2", "i", JobKind.TIMER, "reminder", T0 + timedelta(days=2)),
        ],
        subscriptions=[
            Subscription("s1", "i", SubscriptionKind.MESSAGE, "paid", "payment", "SO-1")
        ],
        incidents=[Incident("x", "i", "j1", "reserve", "RuntimeError: no stock", T0)],
    )
    overlay = instance_overlay(records)
    assert {e: overlay.mark(e).state for e in ("start", "flow_1", "split")} == {
        "start": "passed",
        "flow_1": "passed",
        "split": "passed",
    }
    assert overlay.mark("reserve").state == "incident"
    assert "RuntimeError: no stock" in (overlay.mark("reserve").title or "")
    payment, reminder = overlay.mark("payment"), overlay.mark("reminder")
    assert payment.state == reminder.state == "waiting"
    assert "message 'paid' key 'SO-1'" in (payment.title or "")
    assert "timer due 2026-11-04T07:00:00+00:00" in (reminder.title or "")
    assert overlay.mark("stale_boundary").state == overlay.mark("not_reached").state == "plain"
