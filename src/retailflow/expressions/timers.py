"""Timer definitions (``timeDate``, ``timeDuration``, ``timeCycle``) turned into due times.

Modeler writes ISO 8601 literals unquoted (``PT30M``, ``R3/PT10M``,
``R/2024-01-01T00:00:00Z/P1D``, ``2024-05-01T10:00:00Z``), which SpiffWorkflow would evaluate
as Python and fail on; a literal is therefore read as ISO when it looks like ISO, and any other
text is evaluated as an expression (``=...``, ``${...}``, a quoted Python string, a variable name).
A ``timeCycle`` may also be a cron expression (``0 0 9 * * MON-FRI``; see ``cron``), literal or
the value of an expression. All times are UTC-aware; naive ones are taken to be UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import isodate

from retailflow.expressions.cron import CronCycle, looks_like_cron, parse_cron
from retailflow.expressions.dialect import Dialect
from retailflow.model import ExpressionError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from retailflow.expressions.engine import ExpressionEngine

Interval = timedelta | isodate.Duration
"""``timedelta`` for day/time durations; ``isodate.Duration`` when months or years are in it."""

KINDS = ("timeDate", "timeDuration", "timeCycle")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class TimerSchedule:
    """When a timer is first due, and for a cycle how often and how many times it repeats.

    ``repetitions`` is the number of times the timer fires: 1 for a date or duration, ``n`` for
    ``Rn/...`` and ``None`` for the unbounded ``R/...`` and for a cron cycle, whose ``cron``
    gives each next time instead of an ``interval``.
    """

    first_due: datetime
    interval: Interval | None = None
    repetitions: int | None = 1
    cron: CronCycle | None = None

    def next_after(self, due: datetime) -> datetime | None:
        """The due time after ``due``; None when the timer does not repeat, or when ``due`` was
        the last repetition of a cycle counted from ``first_due``."""
        if self.cron is not None:
            return self.cron.next_after(_utc(due))
        if self.interval is None:
            return None
        due = _utc(due)
        if (
            self.repetitions is not None
            and isinstance(self.interval, timedelta)
            and due >= self.first_due
            and self.interval > timedelta(0)
        ):
            fired = round((due - self.first_due) / self.interval) + 1
            if fired >= self.repetitions:
                return None
        return due + self.interval


def parse_timer(
    kind: str,
    text: str,
    variables: Mapping[str, Any],
    now: datetime,
    engine: ExpressionEngine,
    *,
    element_id: str | None = None,
    quartz_cron: bool = False,
) -> TimerSchedule:
    """The schedule for a timer definition, evaluated against ``variables`` at ``now``.

    ``quartz_cron`` reads a cron cycle as Camunda 7 does (Quartz: day of week 1 = Sunday);
    otherwise as Camunda 8 does (Spring: 0 or 7 = Sunday)."""
    if kind not in KINDS:
        raise ExpressionError(
            f"unknown timer kind {kind!r}; expected one of {', '.join(KINDS)}",
            expression=text,
            element_id=element_id,
        )
    body = text.strip()
    now = _utc(now)
    value: Any = body
    if not _is_literal(body):
        dialect = Dialect.PYTHON if body[:1] in ("'", '"') else None
        value = engine.evaluate(body, variables, dialect=dialect, element_id=element_id)
    try:
        return _schedule(kind, value, now, quartz_cron)
    except (ValueError, TypeError, OverflowError, isodate.ISO8601Error) as error:
        raise ExpressionError(
            f"{kind} timer: {error}", expression=text, element_id=element_id
        ) from None


def _is_literal(body: str) -> bool:
    """Whether the text is meant as ISO 8601 (or cron) rather than as an expression: it starts
    with a digit (a date, or cron), ``P``/``-P`` and a digit or ``T`` (a duration), or ``R``
    and a digit or ``/`` (a cycle). A variable name never looks like that."""
    head, second = body[:1], body[1:2]
    if head.isdigit() or looks_like_cron(body):
        return True
    if head == "-":
        head, second = body[1:2], body[2:3]
    if head == "P":
        return second.isdigit() or second == "T"
    return head == "R" and (second.isdigit() or second == "/")


def _schedule(kind: str, value: Any, now: datetime, quartz_cron: bool) -> TimerSchedule:
    if kind == "timeDate":
        return TimerSchedule(_moment(value))
    if kind == "timeDuration":
        return TimerSchedule(now + _interval(value))
    if isinstance(value, timedelta | isodate.Duration):
        return TimerSchedule(now + value, value, None)
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 repeating interval, got {type(value).__name__}")
    if looks_like_cron(value):
        cron = parse_cron(value, quartz=quartz_cron)
        first = cron.next_after(now)
        if first is None and cron.next_after(now - timedelta(seconds=1)) == now:
            first = now  # its last firing, read again to find the next one (there is none)
        if first is None:
            raise ValueError(f"cron {value!r} fires no more after {now:%Y-%m-%d %H:%M}")
        return TimerSchedule(first, repetitions=None, cron=cron)
    return _cycle(value.strip(), now)


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 date-time, got {type(value).__name__}")
    text = value.strip()
    if "T" in text:
        return _utc(isodate.parse_datetime(text))
    return datetime.combine(isodate.parse_date(text), time(), UTC)


def _interval(value: Any) -> Interval:
    if isinstance(value, timedelta | isodate.Duration):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 duration, got {type(value).__name__}")
    return isodate.parse_duration(value.strip())


def _cycle(text: str, now: datetime) -> TimerSchedule:
    """``Rn/duration``, ``Rn/start/duration``, or a bare duration (repeating forever)."""
    parts = text.split("/")
    if not parts[0].startswith("R"):
        if len(parts) == 1 and text.startswith("P"):
            interval = _interval(text)
            return TimerSchedule(now + interval, interval, None)
        raise ValueError(
            f"{text!r} is neither an ISO 8601 repeating interval such as R3/PT10M nor a "
            "cron expression such as 0 0 9 * * MON-FRI"
        )
    count = parts[0][1:]
    repetitions = int(count) if count else None
    if repetitions is not None and repetitions < 1:
        raise ValueError(f"{parts[0]} never fires; use R1 or more")
    if len(parts) == 2:
        interval = _interval(parts[1])
        return TimerSchedule(now + interval, interval, repetitions)
    if len(parts) == 3 and not parts[1].startswith("P"):
        return TimerSchedule(_moment(parts[1]), _interval(parts[2]), repetitions)
    raise ValueError(f"{text!r}: only Rn/duration and Rn/start/duration cycles are supported")
