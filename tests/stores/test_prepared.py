"""The prepared statements bind and read values exactly as SQLAlchemy's own execution does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import JSON, create_engine, select

from retailflow.stores.sql.prepared import PreparedStatement, bind_processor
from retailflow.stores.sql.schema import UtcDateTime, jobs

_SQLITE = create_engine("sqlite://").dialect


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 8, 5, 36, 59, 684501, tzinfo=UTC),
        datetime(2026, 12, 8, 5, 36, 59, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 12, 8, 1, 0, tzinfo=timezone(timedelta(hours=-5))),  # stored as UTC
        datetime(9, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a year of one digit: padded to four
        datetime(2026, 12, 8, 5, 0, tzinfo=ZoneInfo("UTC")),  # UTC, though not datetime's own
    ],
)
def test_a_time_is_bound_on_sqlite_as_sqlalchemy_binds_it(moment: datetime) -> None:
    sqlalchemy_own = UtcDateTime().dialect_impl(_SQLITE).bind_processor(_SQLITE)
    assert sqlalchemy_own is not None
    fast = bind_processor(UtcDateTime(), _SQLITE)
    assert fast is not None
    assert fast(moment) == sqlalchemy_own(moment)
    assert fast(None) is None


def test_a_naive_time_is_refused_before_it_reaches_the_driver() -> None:
    fast = bind_processor(UtcDateTime(), _SQLITE)
    assert fast is not None
    with pytest.raises(ValueError, match="naive datetime"):
        fast(datetime(2026, 12, 8, 5, 0))


def test_rows_come_back_named_and_converted_to_their_columns_types() -> None:
    class Cursor:
        def fetchall(self) -> list[tuple[str, str | None]]:
            return [("job-1", "2026-12-08 05:36:59.000001"), ("job-2", None)]

    statement = PreparedStatement(select(jobs.c.id, jobs.c.due_at), _SQLITE)
    first, second = statement.rows(Cursor())
    assert first.id == "job-1"
    assert first.due_at == datetime(2026, 12, 8, 5, 36, 59, 1, tzinfo=UTC)
    assert second.due_at is None


@pytest.mark.parametrize("none_as_null", [False, True])
@pytest.mark.parametrize("value", [None, {"amount": 50}, [1, "two"], "text", JSON.NULL])
def test_json_is_bound_as_sqlalchemy_binds_it(none_as_null: bool, value: object) -> None:
    column_type = JSON(none_as_null=none_as_null)
    sqlalchemy_own = column_type.dialect_impl(_SQLITE).bind_processor(_SQLITE)
    fast = bind_processor(column_type, _SQLITE)
    assert sqlalchemy_own is not None and fast is not None
    assert fast(value) == sqlalchemy_own(value)
