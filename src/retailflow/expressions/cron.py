"""Cron ``timeCycle`` values, as Camunda reads them: seconds first, then minutes, hours, day of
month, month and day of week.

Camunda 7 reads them as Quartz does (six fields, or seven with a year; day of week 1 = Sunday
... 7 = Saturday; ``?``, ``L``, ``W``, ``#``); Camunda 8 as Spring does (six fields; day of week
0 or 7 = Sunday, 1 = Monday; the same specials, and macros such as ``@daily``). croniter does
the calendar arithmetic; this module only translates the two spellings into croniter's.
A day of month and a day of week that are both given must both match (Quartz and Spring),
not either (Unix cron).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_MACROS = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
}
"""Spring's macros (Camunda 8)."""
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_LAST_WEEKDAY = re.compile(r"([0-7]|[A-Z]{3})L")
_NUMBER = re.compile(r"\d+")
_SOME_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_FIELD = re.compile(r"(?:[0-9*?/,#LW-]|[A-Za-z]{3})+")


def looks_like_cron(text: str) -> bool:
    """Whether a timer value is meant as cron: a macro, or five to seven fields of cron's
    characters (five, so that a Unix cron is refused with a clear message, not evaluated)."""
    body = text.strip()
    if body.startswith("@"):
        return body[1:].isalpha()
    fields = body.split()
    return 5 <= len(fields) <= 7 and all(_FIELD.fullmatch(field) for field in fields)


@dataclass(frozen=True, slots=True)
class CronCycle:
    """A parsed cron cycle; ``next_after`` gives the first firing strictly after a moment, or
    ``None`` when it fires no more (a cycle bound to a year that has passed)."""

    text: str
    translated: str

    def next_after(self, moment: datetime) -> datetime | None:
        # croniter (and dateutil under it) load with the first cron timer, not at import.
        from croniter import CroniterError, croniter

        try:
            due = croniter(
                self.translated, moment.astimezone(UTC), second_at_beginning=True, day_or=False
            ).get_next(datetime)
        except (CroniterError, ValueError):
            return None
        if not isinstance(due, datetime):  # croniter types its result loosely
            raise TypeError(f"cron {self.text!r} gave {due!r}")
        return due


def parse_cron(text: str, *, quartz: bool) -> CronCycle:
    """Read a cron cycle; ``quartz`` for Camunda 7's reading of the day of week. Raises
    ``ValueError`` saying what is wrong."""
    body = " ".join(text.split())
    if body.startswith("@"):
        macro = _MACROS.get(body.lower())
        if macro is None or quartz:
            raise ValueError(
                f"unknown cron macro {body!r}"
                + ("" if quartz else f"; use one of {', '.join(_MACROS)}")
            )
        return CronCycle(text, macro)
    fields = body.upper().split(" ")
    allowed = (6, 7) if quartz else (6,)
    if len(fields) not in allowed:
        expected = "6 fields (7 with a year)" if quartz else "6 fields"
        raise ValueError(
            f"cron {body!r} has {len(fields)} fields; Camunda's cron has "
            f"{expected}, seconds first: e.g. '0 0 9 * * MON-FRI'"
        )
    if "LW" in fields[3] or "L-" in fields[3]:
        raise ValueError(
            f"cron {body!r}: 'LW' and 'L-n' in the day of month are not "
            "supported; use 'L' (last day) or a weekday with 'L' (e.g. 6L)"
        )
    fields[5] = _day_of_week(fields[5], quartz=quartz)
    translated = " ".join(fields)
    from croniter import croniter  # loaded on first use, as in CronCycle.next_after

    if not croniter.is_valid(translated, second_at_beginning=True):
        raise ValueError(f"{body!r} is not a valid cron expression")
    cycle = CronCycle(text, translated)
    if cycle.next_after(_SOME_TIME) is None:  # 31 February parses, and never comes
        raise ValueError(f"cron {body!r} never fires")
    return cycle


def _day_of_week(field: str, *, quartz: bool) -> str:
    """croniter numbers days 0 = Sunday (7 too) and writes the last Friday ``L5``."""
    terms = []
    for term in field.split(","):
        last = _LAST_WEEKDAY.fullmatch(term)
        if last is not None:
            day = last.group(1)
            if day in _DAY_NAMES:
                terms.append(f"L{_DAY_NAMES.index(day)}")
                continue
            term = f"L{day}"
        if quartz:
            # Only days shift: not a step (``2/3``) nor the n of ``6#3``.
            cut = next((i for i, char in enumerate(term) if char in "/#"), len(term))
            term = _NUMBER.sub(lambda day: str(_quartz_day(day.group())), term[:cut]) + term[cut:]
        terms.append(term)
    return ",".join(terms)


def _quartz_day(number: str) -> int:
    day = int(number)
    if not 1 <= day <= len(_DAY_NAMES):
        raise ValueError(f"day of week {day} is out of range: Quartz numbers 1 (SUN) to 7 (SAT)")
    return day - 1
