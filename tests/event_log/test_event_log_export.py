"""The history exported as an event log, read back the way process-mining tools read it.

pm4py itself is not a dev dependency (with numpy, pandas, scipy, matplotlib and cvxopt it
installs about 380 MB), so the read-back below follows pm4py's XES import rules with lxml:
a trace's ``concept:name`` is the case, an event's ``concept:name`` the activity and
``lifecycle:transition`` its lifecycle, and a directly-follows graph over the ``complete``
events is the discovered model. Where pm4py is installed, the last tests read the files with
pm4py itself.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from retailflow import VirtualClock
from retailflow.cli.app import app
from retailflow.engine import Engine, acting_as
from retailflow.event_log import LogEvent, export_event_log, read_event_log, write_xes
from retailflow.model import HistoryKind
from scenario_kit import EngineFactory, outage_shop

ORDER_FILE = "tests/fixtures/order_fulfilment_c8.bpmn"
ATTRIBUTES = "string", "date"
SHIPPED_ORDER = [
    "Order placed",
    "Reserve stock",
    "Wait for payment",
    "Pick and pack",
    "Ship order",
    "Notify customer",
    "Order shipped",
]


def place(engine: Engine, order_id: str, *, pay: bool, pack: bool) -> str:
    instance = engine.start(
        "order_fulfilment_c8", business_key=order_id, variables={"order_id": order_id, "items": []}
    ).id
    engine.run()
    if pay:
        engine.correlate("payment_received", key=order_id, variables={"paid": True})
        engine.run()
    if pack:
        [task] = engine.tasks(instance=instance)
        with acting_as("ana"):
            engine.complete_task(task, {"packed_by": "ana"})
        engine.run()
    return instance


@pytest.fixture
def shop(make_engine: EngineFactory, clock: VirtualClock) -> Engine:
    """Two shipped orders and one waiting for payment, an hour apart."""
    engine = make_engine(outage_shop())
    engine.deploy(ORDER_FILE)
    place(engine, "SO-1", pay=True, pack=True)
    clock.advance(timedelta(hours=1))
    place(engine, "SO-2", pay=True, pack=True)
    clock.advance(timedelta(hours=1))
    place(engine, "SO-3", pay=False, pack=False)
    return engine


def element_rows(engine: Engine) -> int:
    return sum(
        1
        for instance in engine.instances()
        for event in engine.history(instance)
        if event.kind in (HistoryKind.ELEMENT_ENTERED, HistoryKind.ELEMENT_COMPLETED)
    )


def attributes(element: etree._Element) -> dict[str, str]:
    return {
        child.get("key", ""): child.get("value", "")
        for child in element
        if etree.QName(child).localname in ATTRIBUTES
    }


def read_xes(content: bytes) -> dict[str, list[tuple[str, str, str]]]:
    """case -> [(activity, lifecycle, timestamp)], as pm4py's XES importer reads a log."""
    root = etree.fromstring(content)
    assert root.tag == "log" and root.get("xes.version") == "1849-2016"
    return {
        attributes(trace)["concept:name"]: [
            (fields["concept:name"], fields["lifecycle:transition"], fields["time:timestamp"])
            for fields in map(attributes, trace.iter("event"))
        ]
        for trace in root.iter("trace")
    }


def directly_follows(cases: dict[str, list[tuple[str, str, str]]]) -> set[tuple[str, str]]:
    """The directly-follows graph of the completions: the model pm4py.discover_dfg finds."""
    return {
        pair
        for events in cases.values()
        for pair in itertools.pairwise(a for a, lifecycle, _ in events if lifecycle == "complete")
    }


def exported(engine: Engine, log_format: str, **filters: object) -> bytes:
    stream = io.BytesIO()
    export_event_log(engine.store, log_format, stream, **filters)  # type: ignore[arg-type]
    return stream.getvalue()


def test_xes_has_a_trace_per_instance_and_an_event_per_element_entered_or_completed(
    shop: Engine,
) -> None:
    cases = read_xes(exported(shop, "xes"))

    assert len(cases) == 3
    assert sum(map(len, cases.values())) == element_rows(shop)
    shipped = [instance.id for instance in shop.instances() if instance.business_key != "SO-3"]
    for case in shipped:
        completed = [activity for activity, lifecycle, _ in cases[case] if lifecycle == "complete"]
        assert completed == SHIPPED_ORDER
        steps = [(activity, lifecycle) for activity, lifecycle, _ in cases[case]]
        assert steps.index(("Pick and pack", "start")) < steps.index(("Pick and pack", "complete"))
    graph = directly_follows(cases)
    assert {activity for pair in graph for activity in pair} == set(SHIPPED_ORDER)
    assert ("Pick and pack", "Ship order") in graph


def test_xes_traces_carry_business_key_and_timestamps_in_order(shop: Engine) -> None:
    root = etree.fromstring(exported(shop, "xes"))

    keys = sorted(attributes(trace)["business_key"] for trace in root.iter("trace"))
    assert keys == ["SO-1", "SO-2", "SO-3"]
    for events in read_xes(exported(shop, "xes")).values():
        stamps = [stamp for _, _, stamp in events]
        assert stamps == sorted(stamps) and all(stamp.endswith("+00:00") for stamp in stamps)


def test_filters_keep_one_process_and_events_since_a_moment(
    shop: Engine, clock: VirtualClock
) -> None:
    since = clock.now() - timedelta(minutes=30)  # only SO-3 started after that

    assert read_xes(exported(shop, "xes", process_id="no_such_process")) == {}
    assert len(read_xes(exported(shop, "xes", process_id="order_fulfilment_c8"))) == 3
    [(case, _)] = read_xes(exported(shop, "xes", since=since)).items()
    assert shop.instance(case).business_key == "SO-3"


def test_the_person_who_completed_a_user_task_is_its_resource(shop: Engine) -> None:
    events = list(read_event_log(shop.store))
    done_by = {(e.element_id, e.lifecycle, e.resource) for e in events if e.resource}
    assert done_by == {("pick_and_pack", "complete", "ana")}
    assert sum(1 for e in events if e.resource == "ana") == 2  # SO-1 and SO-2 were packed
    xes = exported(shop, "xes")
    assert xes.count(b'key="org:resource" value="ana"') == 2


def test_csv_has_one_row_per_event_with_the_standard_columns(shop: Engine) -> None:
    rows = list(csv.DictReader(io.StringIO(exported(shop, "csv").decode())))

    assert list(rows[0]) == ["case_id", "activity", "lifecycle", "timestamp", "resource"]
    assert len(rows) == element_rows(shop)
    assert len({row["case_id"] for row in rows}) == 3
    assert {row["lifecycle"] for row in rows} == {"start", "complete"}


def test_ocel_relates_each_event_to_its_instance_and_business_key(shop: Engine) -> None:
    log = json.loads(exported(shop, "ocel"))

    assert len(log["events"]) == element_rows(shop)
    objects = {(obj["type"], obj["id"]) for obj in log["objects"]}
    assert {kind for kind, _ in objects} == {"instance", "business_key"}
    assert ("business_key", "key:SO-1") in objects
    assert sum(1 for kind, _ in objects if kind == "instance") == 3
    assert {t["name"] for t in log["eventTypes"]} >= set(SHIPPED_ORDER)
    first = log["events"][0]
    assert {r["qualifier"] for r in first["relationships"]} == {"case", "business key"}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_export_command_writes_the_file(shop: Engine, store_url: str, tmp_path: Path) -> None:
    target = tmp_path / "orders.xes"

    result = CliRunner().invoke(
        app,
        [
            "export",
            "--db",
            store_url,
            "--format",
            "xes",
            "--process",
            "order_fulfilment_c8",
            "-o",
            str(target),
        ],
    )

    assert result.exit_code == 0, result.output
    assert len(read_xes(target.read_bytes())) == 3
    refused = CliRunner().invoke(app, ["export", "--db", store_url, "--since", "yesterday"])
    assert refused.exit_code == 2 and "ISO 8601" in refused.output


@pytest.fixture
def pm4py() -> Iterator[object]:
    """pm4py is in the dev extra: these read-back tests run in CI, never skip."""
    import pm4py as mining

    yield mining


def test_pm4py_reads_the_xes_and_discovers_the_activities(
    shop: Engine, tmp_path: Path, pm4py: object
) -> None:
    import pm4py as mining

    target = tmp_path / "orders.xes"
    target.write_bytes(exported(shop, "xes"))
    log = mining.read_xes(str(target))

    assert log["case:concept:name"].nunique() == 3
    assert len(log) == element_rows(shop)
    completed = log[log["lifecycle:transition"] == "complete"]
    net, _, _ = mining.discover_petri_net_inductive(completed)
    assert {t.label for t in net.transitions if t.label} == set(SHIPPED_ORDER)


def test_pm4py_reads_the_ocel(shop: Engine, tmp_path: Path, pm4py: object) -> None:
    import pm4py as mining

    target = tmp_path / "orders.jsonocel"
    target.write_bytes(exported(shop, "ocel"))
    log = mining.read_ocel2_json(str(target))

    assert len(log.events) == element_rows(shop)
    assert set(log.objects["ocel:type"]) == {"instance", "business_key"}


def test_pm4py_streams_a_large_xes(tmp_path: Path, pm4py: object) -> None:
    """pm4py's iterparse reader clears elements as it goes; a namespace declared again on
    every element (as lxml's incremental writer does for a default namespace) made it fail
    or crash on logs of this size, so the log is written without one."""
    import pm4py as mining

    moment = datetime(2026, 12, 1, tzinfo=UTC)
    events = (
        LogEvent(
            f"{case}-{step}",
            f"{case:032x}",
            f"SO-{case:05}",
            "order_fulfilment",
            f"Step number {step % 40}",
            f"Activity_{step % 40}",
            "start" if step % 2 else "complete",
            moment + timedelta(minutes=step),
        )
        for case in range(50)
        for step in range(100)
    )
    target = tmp_path / "large.xes"
    with target.open("wb") as stream:
        assert write_xes(events, stream) == 5000

    log = mining.read_xes(str(target))
    assert (log["case:concept:name"].nunique(), len(log)) == (50, 5000)
