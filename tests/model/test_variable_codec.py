"""The variable codec's stored form is the one docs/api.md ("Variable types") promises: plain
JSON for JSON's types, a one-key ``$`` tag for the others, escaping for look-alikes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import isodate
import pytest

from retailflow import VariableTypeError
from retailflow.model.variables import (
    MAX_VALUES,
    check_variables,
    decode,
    decode_variables,
    encode,
    encode_variables,
)

_FORMS: list[tuple[Any, Any]] = [
    (None, None),
    (True, True),
    ("tea", "tea"),
    (2**63 - 1, 2**63 - 1),
    (1.5, 1.5),
    (2**63, {"$int": "9223372036854775808"}),
    (-(2**64), {"$int": "-18446744073709551616"}),
    ([1, "a"], [1, "a"]),
    ({"a": 1, "$b": 2}, {"a": 1, "$b": 2}),
    ({"$date": "2026-12-08"}, {"$map": {"$date": "2026-12-08"}}),
    (date(2026, 12, 8), {"$date": "2026-12-08"}),
    (time(9, 30), {"$time": "09:30:00"}),
    (time(9, 30, tzinfo=timezone(timedelta(hours=-5))), {"$time": "09:30:00-05:00"}),
    (datetime(2026, 12, 8, 9, 30, tzinfo=UTC), {"$datetime": "2026-12-08T09:30:00+00:00"}),
    (
        datetime(2026, 12, 8, 9, 30, tzinfo=ZoneInfo("Europe/Berlin")),
        {"$datetime": "2026-12-08T09:30:00+01:00[Europe/Berlin]"},
    ),
    (timedelta(days=1, hours=2, microseconds=500_000), {"$duration": "P1DT2H0.500000S"}),
    (timedelta(0), {"$duration": "PT0S"}),
    (-timedelta(minutes=90), {"$duration": "-PT1H30M"}),
    (isodate.Duration(years=1, months=2), {"$period": "P1Y2M"}),
    (isodate.Duration(years=-1, months=-2), {"$period": "-P1Y2M"}),
    (Decimal("12.50"), {"$decimal": "12.50"}),
    (Decimal("1E+999999"), {"$decimal": "1E+999999"}),
]


@pytest.mark.parametrize(("value", "stored"), _FORMS, ids=[repr(v)[:40] for v, _ in _FORMS])
def test_each_type_has_the_documented_stored_form_and_reads_back(value: Any, stored: Any) -> None:
    assert encode(value) == stored
    back = decode(json.loads(json.dumps(encode(value))))
    assert back == value and type(back) is type(value) and repr(back) == repr(value)


def test_a_variable_named_like_a_tag_is_kept_by_name_beside_the_others() -> None:
    variables = {"$int": "5"}
    assert decode_variables(encode_variables(variables, "test")) == variables
    assert decode(encode(variables)) == variables


def test_an_integer_of_100_000_bits_round_trips_past_pythons_4300_digit_str_limit() -> None:
    big = -(2**100_000 - 1)
    assert decode(encode(big)) == big
    with pytest.raises(VariableTypeError, match="100,000 bits"):
        encode(2**100_000)


def test_a_refusal_names_the_path_and_the_writer() -> None:
    with pytest.raises(VariableTypeError) as raised:
        check_variables(
            {"order": {"items": [{}, {}, {}, {"price": float("nan")}]}},
            "start of 'order_fulfilment'",
        )
    assert raised.value.path == "order.items[3].price"
    assert str(raised.value).startswith(
        "start of 'order_fulfilment': variable 'order.items[3].price' is the float nan"
    )


def test_keys_that_are_not_identifiers_are_quoted_in_the_path() -> None:
    with pytest.raises(VariableTypeError) as raised:
        check_variables({"order": {"line items": [(1,)]}}, "test")
    assert raised.value.path == "order['line items'][0]"


def test_shared_references_count_each_time_and_stop_the_walk_at_the_limit() -> None:
    row = [0] * 1000
    shared = [row] * (MAX_VALUES // 1000)  # a million references, a thousand-and-one objects
    with pytest.raises(VariableTypeError, match="past 1,000,000 values"):
        check_variables({"rows": shared}, "test")
    check_variables({"rows": [row] * 100}, "test")  # shared, and within the limit: fine
