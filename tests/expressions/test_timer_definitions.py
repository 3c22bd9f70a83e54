"""Timer definitions as Modeler writes them, and as expressions that compute them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import isodate
import pytest

from retailflow.expressions import ExpressionEngine, TimerSchedule, parse_timer
from retailflow.model import ExpressionError

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine() -> ExpressionEngine:
    return ExpressionEngine()


def test_unquoted_duration_is_due_after_it(engine: ExpressionEngine) -> None:
    schedule = parse_timer("timeDuration", "PT30M", {}, NOW, engine)
    assert schedule == TimerSchedule(NOW + timedelta(minutes=30))
    assert schedule.next_after(schedule.first_due) is None


def test_date_is_due_at_that_instant_in_utc(engine: ExpressionEngine) -> None:
    schedule = parse_timer("timeDate", "2024-05-01T10:00:00Z", {}, NOW, engine)
    assert schedule.first_due == datetime(2024, 5, 1, 10, tzinfo=UTC)
    offset = parse_timer("timeDate", "2024-05-01T12:00:00+02:00", {}, NOW, engine)
    assert offset.first_due == datetime(2024, 5, 1, 10, tzinfo=UTC)
    naive = parse_timer("timeDate", "2024-05-01T10:00:00", {}, NOW, engine)
    assert naive.first_due == datetime(2024, 5, 1, 10, tzinfo=UTC)
    day = parse_timer("timeDate", "2024-05-02", {}, NOW, engine)
    assert day.first_due == datetime(2024, 5, 2, tzinfo=UTC)


def test_bounded_cycle_repeats_its_count(engine: ExpressionEngine) -> None:
    schedule = parse_timer("timeCycle", "R3/PT10M", {}, NOW, engine)
    assert schedule.first_due == NOW + timedelta(minutes=10)
    assert schedule.interval == timedelta(minutes=10)
    assert schedule.repetitions == 3
    second = schedule.next_after(schedule.first_due)
    assert second == NOW + timedelta(minutes=20)
    third = schedule.next_after(second)
    assert third == NOW + timedelta(minutes=30)
    assert schedule.next_after(third) is None


def test_unbounded_cycle_with_a_start_repeats_forever(engine: ExpressionEngine) -> None:
    schedule = parse_timer("timeCycle", "R/2024-01-01T00:00:00Z/P1D", {}, NOW, engine)
    assert schedule.first_due == datetime(2024, 1, 1, tzinfo=UTC)
    assert schedule.repetitions is None
    assert schedule.next_after(datetime(2024, 3, 1, tzinfo=UTC)) == datetime(2024, 3, 2, tzinfo=UTC)


def test_calendar_durations_keep_months(engine: ExpressionEngine) -> None:
    schedule = parse_timer("timeCycle", "R2/2024-01-31T00:00:00Z/P1M", {}, NOW, engine)
    assert isinstance(schedule.interval, isodate.Duration)
    assert schedule.next_after(schedule.first_due) == datetime(2024, 2, 29, tzinfo=UTC)


@pytest.mark.parametrize("text", ['=duration("PT30M")', '="PT30M"', "${delay}", "'PT30M'", "delay"])
def test_expressions_are_evaluated_first(engine: ExpressionEngine, text: str) -> None:
    schedule = parse_timer("timeDuration", text, {"delay": "PT30M"}, NOW, engine)
    assert schedule.first_due == NOW + timedelta(minutes=30)


def test_expression_may_give_a_date_time(engine: ExpressionEngine) -> None:
    due = datetime(2024, 6, 1, 8, tzinfo=timezone(timedelta(hours=2)))
    schedule = parse_timer("timeDate", "=deliver_at", {"deliver_at": due}, NOW, engine)
    assert schedule.first_due == datetime(2024, 6, 1, 6, tzinfo=UTC)


def test_spring_cron_cycle_fires_at_each_matching_second(engine: ExpressionEngine) -> None:
    # NOW is Wednesday 1 May 2024, noon.
    schedule = parse_timer("timeCycle", "0 0 9-17 * * MON-FRI", {}, NOW, engine)
    assert schedule.first_due == datetime(2024, 5, 1, 13, tzinfo=UTC)
    assert schedule.repetitions is None
    assert schedule.next_after(datetime(2024, 5, 3, 17, tzinfo=UTC)) == datetime(
        2024, 5, 6, 9, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("cron", "quartz", "due"),
    [
        ("0 0 9 ? * 2", True, datetime(2024, 5, 6, 9, tzinfo=UTC)),  # Quartz 2 = Monday
        ("0 0 9 ? * 2", False, datetime(2024, 5, 7, 9, tzinfo=UTC)),  # Spring 2 = Tuesday
        ("0 0 9 ? * 7", True, datetime(2024, 5, 4, 9, tzinfo=UTC)),  # Quartz 7 = Saturday
        ("0 0 9 ? * 7", False, datetime(2024, 5, 5, 9, tzinfo=UTC)),  # Spring 7 = Sunday
        ("0 15 10 ? * 6L", True, datetime(2024, 5, 31, 10, 15, tzinfo=UTC)),  # last Friday
        ("0 15 10 ? * 5L", False, datetime(2024, 5, 31, 10, 15, tzinfo=UTC)),
        ("0 15 10 ? * 6#3", True, datetime(2024, 5, 17, 10, 15, tzinfo=UTC)),  # third Friday
        ("0 0 12 L * ?", True, datetime(2024, 5, 31, 12, tzinfo=UTC)),
        ("0 0 12 15W * ?", True, datetime(2024, 5, 15, 12, tzinfo=UTC)),
        ("0 0 12 1 1 ? 2026", True, datetime(2026, 1, 1, 12, tzinfo=UTC)),
        ("@weekly", False, datetime(2024, 5, 5, tzinfo=UTC)),
    ],
)
def test_quartz_and_spring_cron_read_as_their_camunda_versions(
    engine: ExpressionEngine, cron: str, quartz: bool, due: datetime
) -> None:
    schedule = parse_timer("timeCycle", cron, {}, NOW, engine, quartz_cron=quartz)
    assert schedule.first_due == due


def test_cron_may_come_from_an_expression(engine: ExpressionEngine) -> None:
    schedule = parse_timer("timeCycle", "=reminders", {"reminders": "0 0 8 * * *"}, NOW, engine)
    assert schedule.first_due == datetime(2024, 5, 2, 8, tzinfo=UTC)


def test_naive_now_is_utc(engine: ExpressionEngine) -> None:
    schedule = parse_timer("timeDuration", "PT1H", {}, datetime(2024, 5, 1, 12), engine)
    assert schedule.first_due == datetime(2024, 5, 1, 13, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "text", "reason"),
    [
        ("timeCycle", "0 0 9 * * 8", "not a valid cron expression"),
        ("timeCycle", "0 9 * * MON", "has 5 fields"),
        ("timeCycle", "R0/PT1M", "never fires"),
        ("timeDuration", "=42", "expected an ISO 8601 duration"),
        ("timeDate", '="not a date"', "timeDate timer"),
        ("timeDuration", "P1X", "timeDuration timer"),
        ("timeDate", "2024-13-45T99:00:00Z", "timeDate timer"),
        ("timeSometimes", "PT1M", "unknown timer kind"),
    ],
)
def test_bad_timer_definitions_say_why(
    engine: ExpressionEngine, kind: str, text: str, reason: str
) -> None:
    with pytest.raises(ExpressionError, match=reason) as raised:
        parse_timer(kind, text, {}, NOW, engine, element_id="Timer_1")
    assert raised.value.element_id == "Timer_1"
