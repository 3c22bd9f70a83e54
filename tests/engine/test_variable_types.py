"""Process variables keep their value and type through every store, live and reloaded; anything
outside the variable type system (docs/api.md, "Variable types") is refused where it enters,
with ``VariableTypeError`` naming the variable's path.

Each scenario runs on memory, SQLite and PostgreSQL. "Live" reads go through the engine that
wrote the instance (its cached run); "reloaded" ones through a fresh engine on the same store,
which restores the run from the stored state.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import isodate
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from retailflow import (
    Engine,
    HandlerRegistry,
    InstanceStatus,
    RetailflowError,
    VariableTypeError,
)
from retailflow.model.variables import MAX_DEPTH
from scenario_kit import EngineFactory

_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:message id="m" name="nudge"><bpmn:extensionElements>
    <zeebe:subscription correlationKey="=key"/></bpmn:extensionElements></bpmn:message>
  <bpmn:signal id="s" name="wake"/>
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="start"/>
    {lead}
    <bpmn:serviceTask id="produce"><bpmn:extensionElements>
      <zeebe:taskDefinition type="test.produce"/></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:userTask id="review"/>
    <bpmn:intermediateCatchEvent id="nudged"><bpmn:messageEventDefinition messageRef="m"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="woken"><bpmn:signalEventDefinition signalRef="s"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:serviceTask id="echo"><bpmn:extensionElements>
      <zeebe:taskDefinition type="test.echo"/></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="{first}"/>
    <bpmn:sequenceFlow id="f1" sourceRef="produce" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="nudged"/>
    <bpmn:sequenceFlow id="f3" sourceRef="nudged" targetRef="woken"/>
    <bpmn:sequenceFlow id="f4" sourceRef="woken" targetRef="echo"/>
    <bpmn:sequenceFlow id="f5" sourceRef="echo" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""
_SCRIPT_LEAD = """<bpmn:scriptTask id="script" scriptFormat="python">
      <bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f_script" sourceRef="script" targetRef="produce"/>"""
_FEEL_LEAD = """<bpmn:scriptTask id="script"><bpmn:extensionElements>
      <zeebe:script expression="{expression}" resultVariable="made"/></bpmn:extensionElements>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f_script" sourceRef="script" targetRef="produce"/>"""


class _Shop:
    """Handlers that write ``produced`` (the job's result) and record what ``echo`` saw."""

    def __init__(self, produce: Callable[[], Any] = lambda: None) -> None:
        self.echoed: list[dict[str, Any]] = []
        self.registry = HandlerRegistry()
        self.registry.register("test.produce", produce)

        def echo(**variables: Any) -> None:
            self.echoed.append(variables)

        self.registry.register("test.echo", echo)


def _deploy(engine: Engine, tmp_path: Path, process_id: str = "typed", lead: str = "") -> None:
    path = tmp_path / f"{process_id}.bpmn"
    path.write_text(
        _PROCESS.format(process_id=process_id, lead=lead, first="script" if lead else "produce")
    )
    engine.deploy(path)


def _fresh(
    make_engine: EngineFactory, engine: Engine, store_url: str | None, handlers: HandlerRegistry
) -> Engine:
    """A second engine on the first one's store: it restores every run from stored state."""
    return make_engine(handlers, store=engine.store if store_url is None else None)


def _drive_to_end(engine: Engine, instance_id: str, key: str) -> None:
    """Through the user task, the message and the signal to the echo job, on ``engine``."""
    [task] = engine.tasks(instance=instance_id)
    engine.complete_task(task, {})
    engine.correlate("nudge", key=key, variables={})
    engine.broadcast_signal("wake", {})
    engine.run()


def _identical(a: Any, b: Any) -> bool:
    """Same value and same type, all the way down (``-0.0`` is not ``0.0``, ``Decimal('1.0')``
    is not ``Decimal('1.00')``, a zone is not its offset, dict order counts)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_identical(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int):
        return a == b
    if isinstance(a, time | datetime):
        # ``fold`` is kept where it decides the UTC offset (a repeated hour in a named zone);
        # elsewhere it means nothing, and ISO 8601 has no place for it.
        return (
            a == b
            and a.utcoffset() == b.utcoffset()
            and repr(a.replace(fold=0)) == repr(b.replace(fold=0))
        )
    return a == b and repr(a) == repr(b)


# -- the type system, as hypothesis draws it ------------------------------------------------------

_offsets = st.builds(
    timezone,
    st.timedeltas(
        min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
    ).map(lambda d: timedelta(minutes=d // timedelta(minutes=1))),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**300), max_value=2**300),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.dates(),
    st.times(timezones=st.none() | _offsets),
    st.datetimes(timezones=_offsets | st.timezones()),
    st.timedeltas(),
    st.builds(isodate.Duration, years=st.integers(-50, 50), months=st.integers(-50, 50)),
    st.decimals(allow_nan=False, allow_infinity=False),
)
_keys = st.text(max_size=8) | st.sampled_from(["$date", "$map", "$int", "typename", "a.b"])
variable_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


def test_every_value_of_the_type_system_reads_back_identically_live_and_reloaded(
    make_engine: EngineFactory, store_url: str | None, tmp_path: Path
) -> None:
    shop = _Shop()
    engine = make_engine(shop.registry)
    _deploy(engine, tmp_path)
    fresh = _fresh(make_engine, engine, store_url, shop.registry)
    counter = iter(range(10**6))

    @settings(max_examples=40, deadline=None)
    @given(value=variable_values)
    def round_trips(value: Any) -> None:
        variables = {"v": value, "also": [value, {"$date": value}]}
        key = f"k{next(counter)}"
        live_one = engine.start("typed", variables={**variables, "key": key})
        reloaded_one = engine.start("typed", variables={**variables, "key": key + "r"})
        engine.run()
        for reader in (engine, fresh):
            assert _identical(reader.instance(live_one.id).variables["v"], value)
            [task] = reader.tasks(instance=reloaded_one.id)
            assert _identical(task.variables["also"], variables["also"])
            [started, *_] = reader.history(live_one.id)
            assert _identical(started.variables["v"], value)
        shop.echoed.clear()
        _drive_to_end(engine, live_one.id, key)  # the cached run
        _drive_to_end(fresh, reloaded_one.id, key + "r")  # a run restored from its state
        for seen in shop.echoed:
            assert _identical(seen["v"], value) and _identical(seen["also"], variables["also"])
        assert len(shop.echoed) == 2
        for reader in (engine, fresh):
            finished = reader.instance(reloaded_one.id)
            assert finished.status == InstanceStatus.COMPLETED
            assert _identical(finished.variables["v"], value)

    round_trips()


# -- refused values, at any depth -------------------------------------------------------------

_REFUSED: list[tuple[Any, str]] = [
    (math.inf, "finite"),
    (-math.inf, "finite"),
    (math.nan, "finite"),
    ((1, 2), "tuple.*use a list"),
    ({1, 2}, "set"),
    (b"raw", "bytes"),
    ("caf\udce9", "lone surrogate"),
    (datetime(2026, 12, 8, 9, 30), "without a time zone"),
    (Decimal("NaN"), "finite"),
    (2**100_001, "bits"),
    (object(), "object"),
    (time(9, 30, tzinfo=ZoneInfo("Europe/Berlin")), "fixed UTC offset"),
    (datetime(2026, 1, 1, tzinfo=isodate.UTC), "zone"),
    (InstanceStatus.RUNNING, "subclass"),
    (isodate.Duration(years=1, days=2), "years and months"),
]


def _path_text(steps: list[str | int]) -> str:
    text = "v"
    for step in steps:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{step}" if step.isidentifier() else f"[{step!r}]"
    return text


@st.composite
def _refused_somewhere(draw: st.DrawFn) -> tuple[Any, str, str]:
    """A value with one refused leaf at a drawn path: (value, path, what the message says)."""
    leaf, says = draw(st.sampled_from(_REFUSED))
    steps = draw(st.lists(st.integers(0, 3) | st.text(min_size=1, max_size=6), max_size=6))
    value = leaf
    for step in reversed(steps):
        if isinstance(step, int):
            value = [draw(_scalars) for _ in range(step)] + [value]
        else:
            siblings = draw(st.dictionaries(st.text(max_size=3), _scalars, max_size=2))
            siblings.pop(step, None)
            value = {**siblings, step: value}
    return value, _path_text(steps), says


def test_a_value_outside_the_type_system_is_refused_at_start_naming_its_path(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    engine = make_engine(_Shop().registry)
    _deploy(engine, tmp_path)

    @settings(max_examples=60, deadline=None)
    @given(case=_refused_somewhere())
    def refused(case: tuple[Any, str, str]) -> None:
        value, path, says = case
        with pytest.raises(VariableTypeError, match=says) as raised:
            engine.start("typed", variables={"v": value})
        assert raised.value.path == path
        assert f"variable '{path}'" in str(raised.value)

    refused()
    assert engine.instances() == []


# -- the cases found by probing (issue 13, defect 4) -------------------------------------------

_KEPT = {
    "date": date(2026, 12, 8),
    "time": time(9, 30, 15, 250),
    "integer beyond 64 bits": 2**70 + 1,
    "negative integer of 10,000 digits": -(10**9_999),
    "datetime in UTC": datetime(2026, 12, 8, 9, 30, tzinfo=UTC),
    "datetime in a named zone": datetime(
        2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")
    ),
    "Decimal": Decimal("12.50"),
    "days-time duration": timedelta(days=-1, microseconds=3),
    "years-months duration": isodate.Duration(years=1, months=2),
}


@pytest.mark.parametrize("name", list(_KEPT))
def test_a_variable_of_each_type_keeps_its_type_after_a_reload(
    make_engine: EngineFactory, store_url: str | None, tmp_path: Path, name: str
) -> None:
    shop = _Shop()
    engine = make_engine(shop.registry)
    _deploy(engine, tmp_path)
    value = _KEPT[name]
    instance = engine.start("typed", variables={"v": value, "key": "k"})
    engine.run()
    fresh = _fresh(make_engine, engine, store_url, shop.registry)
    assert _identical(fresh.instance(instance.id).variables["v"], value)
    _drive_to_end(fresh, instance.id, "k")
    [seen] = shop.echoed
    assert _identical(seen["v"], value)


class _Delivery(BaseModel):
    delivery_date: date
    window_opens: time


@pytest.mark.parametrize("returns", ["mapping", "pydantic model"])
def test_a_handler_may_return_a_date_and_it_stays_a_date(
    make_engine: EngineFactory, store_url: str | None, tmp_path: Path, returns: str
) -> None:
    def produce() -> Any:
        if returns == "mapping":
            return {"delivery_date": date(2026, 12, 24), "window_opens": time(8)}
        return _Delivery(delivery_date=date(2026, 12, 24), window_opens=time(8))

    shop = _Shop(produce)
    engine = make_engine(shop.registry)
    _deploy(engine, tmp_path)
    instance = engine.start("typed", variables={"key": "k"})
    engine.run()
    assert engine.incidents() == []
    fresh = _fresh(make_engine, engine, store_url, shop.registry)
    for reader in (engine, fresh):
        variables = reader.instance(instance.id).variables
        assert _identical(variables["delivery_date"], date(2026, 12, 24))
        assert _identical(variables["window_opens"], time(8))


def test_a_handler_result_outside_the_type_system_opens_an_incident_naming_the_path(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    shop = _Shop(lambda: {"order": {"lines": [{"price": math.inf}]}})
    engine = make_engine(shop.registry)
    _deploy(engine, tmp_path)
    instance = engine.start("typed", variables={"key": "k"})
    engine.run()
    [incident] = engine.incidents(instance=instance)
    assert (
        "handler 'test.produce' at 'produce': variable 'order.lines[0].price' is the "
        "float inf" in incident.message
    )
    assert "internal error" not in incident.message
    assert engine.instance(instance.id).variables == {"key": "k"}


def _deep(levels: int) -> list[Any]:
    return functools.reduce(lambda inner, _: [inner], range(levels - 1), [0])


@pytest.mark.parametrize(
    ("value", "path", "says"),
    [
        (_deep(MAX_DEPTH + 1), "v" + "[0]" * MAX_DEPTH, "nested more than 64 levels"),
        (_deep(500), "v" + "[0]" * MAX_DEPTH, "nested more than 64 levels"),
        ("caf\udce9", "v", r"lone surrogate \(U\+DCE9\) at character 3"),
        ((1, 2), "v", "use a list"),
        ({"ok": 1, 2: "two"}, "v", "key 2 of type int"),
    ],
    ids=["65 levels", "500 levels", "lone surrogate", "tuple", "int key"],
)
def test_values_that_raised_raw_errors_are_refused_with_the_path(
    make_engine: EngineFactory, tmp_path: Path, value: Any, path: str, says: str
) -> None:
    engine = make_engine(_Shop().registry)
    _deploy(engine, tmp_path)
    with pytest.raises(VariableTypeError, match=says) as raised:
        engine.start("typed", variables={"v": value})
    assert raised.value.path == path


def test_a_deep_value_within_the_limit_is_kept(make_engine: EngineFactory, tmp_path: Path) -> None:
    engine = make_engine(_Shop().registry)
    _deploy(engine, tmp_path)
    instance = engine.start("typed", variables={"v": _deep(MAX_DEPTH)})
    assert engine.instance(instance.id).variables["v"] == _deep(MAX_DEPTH)


@pytest.mark.parametrize(
    ("script", "path", "says"),
    [
        (
            "deep = [0]\nfor i in range(70):\n    deep = [deep]",
            "deep" + "[0]" * MAX_DEPTH,
            "nested more than 64 levels",
        ),
        ("loop = []\nloop.append(loop)", "loop[0]", "contains itself"),
        ("blob = b'abc'", "blob", "bytes"),
        ("pair = {'left': (1, 2)}", "pair.left", "use a list"),
    ],
    ids=["deep", "cyclic", "bytes", "tuple"],
)
def test_a_script_value_outside_the_type_system_is_refused_not_dropped(
    make_engine: EngineFactory, tmp_path: Path, script: str, path: str, says: str
) -> None:
    engine = make_engine(_Shop().registry)
    _deploy(engine, tmp_path, lead=_SCRIPT_LEAD.format(script=script))
    with pytest.raises(RetailflowError, match=says) as raised:
        engine.start("typed", variables={"key": "k"})
    assert f"script at 'script': variable '{path}'" in str(raised.value)
    assert engine.instances() == []


def test_a_shared_list_bomb_in_a_script_is_refused_before_anything_walks_it(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    # A billion values if walked; the sandbox refuses the repetition that would build it (the
    # variable walk's own bound, a million values, is tested in tests/model).
    engine = make_engine(_Shop().registry)
    _deploy(engine, tmp_path, lead=_SCRIPT_LEAD.format(script="c = [[[0] * 1000] * 1000] * 1000"))
    with pytest.raises(RetailflowError, match="above the sandbox's limit"):
        engine.start("typed", variables={"key": "k"})
    assert engine.instances() == []


def test_a_feel_context_bomb_is_refused_after_a_bounded_walk(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    # Ten levels of ten references each: 10^10 values if walked, a few hundred objects built.
    names = "abcdefghij"
    entries = ["a: [1,1,1,1,1,1,1,1,1,1]"] + [
        f"{name}: [{','.join([previous] * 10)}]" for previous, name in itertools.pairwise(names)
    ]
    expression = "={" + ", ".join(entries) + "}"
    engine = make_engine(_Shop().registry)
    _deploy(engine, tmp_path, lead=_FEEL_LEAD.format(expression=expression))
    # FEEL's own budget counts the shared parts as it builds them, before any walk.
    with pytest.raises(RetailflowError, match="more than 1000000 items"):
        engine.start("typed", variables={"key": "k"})


@pytest.mark.parametrize("entry", ["complete_task", "correlate", "broadcast_signal"])
def test_every_entry_point_refuses_a_value_outside_the_type_system(
    make_engine: EngineFactory, tmp_path: Path, entry: str
) -> None:
    engine = make_engine(_Shop().registry)
    _deploy(engine, tmp_path)
    instance = engine.start("typed", variables={"key": "k"})
    engine.run()
    [task] = engine.tasks(instance=instance)
    bad = {"note": {"seen": {3, 4}}}
    with pytest.raises(VariableTypeError) as raised:
        if entry == "complete_task":
            engine.complete_task(task, bad)
        elif entry == "correlate":
            engine.correlate("nudge", key="k", variables=bad, ttl=timedelta(minutes=5))
        else:
            engine.broadcast_signal("wake", bad)
    assert raised.value.path == "note.seen"
    assert engine.instance(instance.id).version == 2 and engine.tasks(instance=instance)


def test_a_variable_named_like_a_stored_tag_reads_back_as_itself(
    make_engine: EngineFactory, store_url: str | None, tmp_path: Path
) -> None:
    shop = _Shop()
    engine = make_engine(shop.registry)
    _deploy(engine, tmp_path)
    instance = engine.start("typed", variables={"$int": "5"})
    engine.run()
    fresh = _fresh(make_engine, engine, store_url, shop.registry)
    for reader in (engine, fresh):
        assert reader.instance(instance.id).variables == {"$int": "5"}
        [task] = reader.tasks(instance=instance)
        assert task.variables == {"$int": "5"}


def test_changing_a_list_after_handing_it_over_changes_no_instance(
    make_engine: EngineFactory, store_url: str | None, tmp_path: Path
) -> None:
    shop = _Shop()
    engine = make_engine(shop.registry)
    _deploy(engine, tmp_path)
    lines = ["tea"]
    instance = engine.start("typed", variables={"order": {"lines": lines}, "key": "k"})
    lines.append("cake")  # the caller's own list, after start returned
    engine.run()
    _drive_to_end(engine, instance.id, "k")  # the live run, cached since start
    [seen] = shop.echoed
    assert seen["order"] == {"lines": ["tea"]}
    assert engine.instance(instance.id).variables["order"] == {"lines": ["tea"]}


_SCRIPT_AFTER_JOB = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="after_job" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:serviceTask id="produce"><bpmn:extensionElements>
      <zeebe:taskDefinition type="test.produce"/></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:scriptTask id="script" scriptFormat="python"><bpmn:script>blob = b'abc'</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="produce"/>
    <bpmn:sequenceFlow id="f1" sourceRef="produce" targetRef="script"/>
    <bpmn:sequenceFlow id="f2" sourceRef="script" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_script_value_refused_after_a_job_is_an_incident_naming_it_not_an_internal_error(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    engine = make_engine(_Shop().registry)
    path = tmp_path / "after_job.bpmn"
    path.write_text(_SCRIPT_AFTER_JOB)
    engine.deploy(path)
    instance = engine.start("after_job")
    engine.run()
    [incident] = engine.incidents(instance=instance)
    assert "script at 'script': variable 'blob' is of type bytes" in incident.message
    assert "internal error" not in incident.message
    assert engine.instance(instance.id).status == InstanceStatus.RUNNING
