"""The plugin as a user meets it: small test files, run by pytest, against the real order
fulfilment process; each check looks at what the user would see (outcome and output)."""

from __future__ import annotations

import pytest

from scenario_kit import FIXTURES

pytest_plugins = ["pytester"]

# The inner runs need neither the cache nor hypothesis, whose summary alone takes a second.
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:asyncio")

ORDER_TESTS = f"""
import pytest
from retailflow.testing import assert_that, complete, correlate, start

pytestmark = pytest.mark.rf_deploy({str(FIXTURES / "order_fulfilment_c8.bpmn")!r})
ORDER = {{"order_id": "SO-1", "items": [{{"sku": "TEA", "quantity": 2}}]}}


@pytest.fixture(autouse=True)
def shop(rf_handlers):
    rf_handlers.mock("inventory.reserve", returns={{"stock_reserved": True}})
    rf_handlers.mock("inventory.release", returns={{"stock_reserved": False}})
    rf_handlers.mock("orders.ship", returns={{"tracking_number": "TRK-1"}})
    rf_handlers.mock("crm.notify_customer")
"""


def run(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_order=ORDER_TESTS + body)
    return pytester.runpytest(*QUIET, *args)


def test_a_paid_order_scenario_passes_with_the_shortcuts(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_paid_order_is_shipped(rf_engine, rf_handlers):
    order = start("order_fulfilment_c8", business_key="SO-1", variables=ORDER)
    assert_that(order).is_started().is_waiting_at("wait_for_payment")
    correlate("payment_received", key="SO-1", variables={"paid": True})
    assert_that(order).has_open_user_task("pick_and_pack", candidate_group="warehouse")
    complete(order, {"packed_by": "ana"})
    assert_that(order).is_ended_at("order_shipped").has_no_incidents()
    assert_that(order).has_passed_in_order("reserve_stock", "pick_and_pack", "ship_order")
    assert_that(order).has_not_passed("release_stock").has_variables(tracking_number="TRK-1")
    [reserve] = rf_handlers.calls("inventory.reserve")
    assert reserve.inputs["order_id"] == "SO-1" and reserve.context.attempt == 1
""",
    )
    result.assert_outcomes(passed=1)


def test_a_failed_assertion_shows_where_the_instance_is_and_what_it_passed(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
def test_wrong_expectation(rf_engine):
    order = start("order_fulfilment_c8", business_key="SO-1", variables=ORDER)
    assert_that(order).is_waiting_at("pick_and_pack")
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E * expected order_fulfilment_c8 instance * to be waiting at 'pick_and_pack'",
            "E * instance * of order_fulfilment_c8:1, business key 'SO-1' is running",
            'E *waiting at: payment_timeout "30 minutes" (timer due 2030-01-01T00:30:00+00:00)',
            "E *wait_for_payment \"Wait for payment\" (message 'payment_received', key 'SO-1')",
            "E *incidents:  none",
            "E *passed:     order_placed -> reserve_stock",
            "E *variables:  items, order_id, stock_reserved",
            "test_order.py:*: AssertionError",
        ]
    )


def test_a_variables_mismatch_shows_the_values_the_instance_has(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_wrong_variables(rf_engine):
    order = start("order_fulfilment_c8", business_key="SO-1", variables=ORDER)
    assert_that(order).has_variables(stock_reserved=False, paid=True)
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E * to have variables {'stock_reserved': False, 'paid': True}",
            "E *has:        {'stock_reserved': True, 'paid': '<missing>'}",
        ]
    )


def test_a_mocked_bpmn_error_takes_the_error_boundary_path(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_out_of_stock_order_is_rejected(rf_engine, rf_handlers):
    rf_handlers.mock("inventory.reserve").raise_bpmn_error("OUT_OF_STOCK")
    order = start("order_fulfilment_c8", variables=ORDER)
    assert_that(order).is_ended_at("order_rejected").has_passed("stock_unavailable")
    assert_that(order).has_not_passed("wait_for_payment")
    [notify] = rf_handlers.calls("crm.notify_customer")
    assert notify.context.headers["template"] == "out_of_stock"
""",
    )
    result.assert_outcomes(passed=1)


def test_mocked_failures_are_retried_as_the_clock_moves_then_succeed(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
def test_flaky_warehouse(rf_engine, rf_handlers, rf_clock):
    rf_handlers.mock("inventory.reserve").fail(times=2)
    order = start("order_fulfilment_c8", business_key="SO-1", variables=ORDER)
    assert_that(order).is_waiting_at("reserve_stock").has_no_incidents()
    rf_clock.advance(seconds=10)
    assert [c.context.attempt for c in rf_handlers.calls("inventory.reserve")] == [1, 2, 3]
    assert_that(order).is_waiting_at("wait_for_payment")
""",
    )
    result.assert_outcomes(passed=1)


def test_failures_beyond_the_retries_become_an_incident_the_assertion_names(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
def test_warehouse_down(rf_engine, rf_handlers, rf_clock):
    rf_handlers.mock("inventory.reserve").fail(times=5, error=ConnectionError("warehouse down"))
    order = start("order_fulfilment_c8", variables=ORDER)
    rf_clock.advance(minutes=5)
    assert_that(order).has_incident_at("reserve_stock", "warehouse down")
    assert_that(order).is_waiting_at("wait_for_payment")
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E * to be waiting at 'wait_for_payment'",
            'E *incidents:  reserve_stock "Reserve stock": ConnectionError: warehouse down',
        ]
    )


def test_an_unmocked_task_type_becomes_an_incident_that_says_which_mock_is_missing(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_unmocked=f"""
import pytest
from retailflow.testing import assert_that, start

@pytest.mark.rf_deploy({str(FIXTURES / "order_fulfilment_c8.bpmn")!r})
def test_nothing_mocked(rf_engine):
    order = start("order_fulfilment_c8", variables={{"order_id": "SO-1", "items": []}})
    assert_that(order).has_incident_at(
        "reserve_stock", "rf_handlers.mock('inventory.reserve', returns={{...}})")
"""
    )
    pytester.runpytest(*QUIET).assert_outcomes(passed=1)


def test_the_clock_fires_the_payment_timeout_at_its_own_time(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
from datetime import datetime, timezone
from retailflow import HistoryKind

def test_unpaid_order_is_cancelled(rf_engine, rf_handlers, rf_clock):
    order = start("order_fulfilment_c8", business_key="SO-1", variables=ORDER)
    rf_clock.advance(minutes=29)
    assert_that(order).is_waiting_at("wait_for_payment")
    rf_clock.advance(hours=2)
    assert_that(order).is_ended_at("order_cancelled")
    [fired] = [e for e in rf_engine.history(order) if e.kind == HistoryKind.TIMER_FIRED]
    assert fired.at == datetime(2030, 1, 1, 0, 30, tzinfo=timezone.utc)
    assert rf_clock.now == datetime(2030, 1, 1, 2, 29, tzinfo=timezone.utc)
    assert [c.inputs.get("stock_reserved") for c in rf_handlers.calls("inventory.release")] \\
        == [True]
""",
    )
    result.assert_outcomes(passed=1)


def test_the_library_comes_from_the_ini_option_and_rf_deployment_reports_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(f"[pytest]\nrf_processes = {FIXTURES / 'order_fulfilment_c8.bpmn'}\n")
    pytester.makepyfile(
        test_library="""
def test_deployed(rf_deployment, rf_engine):
    assert [d.id for d in rf_deployment.created] == ["order_fulfilment_c8:1"]
    assert [d.process_id for d in rf_engine.definitions()] == ["order_fulfilment_c8"]
"""
    )
    pytester.runpytest(*QUIET).assert_outcomes(passed=1)


def test_shortcuts_outside_the_fixture_say_how_to_bind_an_engine(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_unbound="""
from retailflow.testing import start

def test_no_engine():
    start("order_fulfilment_c8")
"""
    )
    result = pytester.runpytest(*QUIET)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E * no retailflow engine is bound: use the rf_engine fixture*"])


def test_completing_an_instance_with_no_open_user_task_says_where_it_is(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
def test_too_early(rf_engine):
    order = start("order_fulfilment_c8", business_key="SO-1", variables=ORDER)
    complete(order, {"packed_by": "ana"})
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E * expected one open user task, found 0", "E *waiting at: payment_timeout*"]
    )


def test_real_handlers_run_next_to_mocks_and_a_topic_is_never_both(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_mixed=f"""
import pytest
from retailflow import HandlerRegistry, RetailflowError
from retailflow.testing import assert_that, start

real = HandlerRegistry()

@real.handler("inventory.reserve")
def reserve(items: list) -> dict:
    return {{"stock_reserved": bool(items)}}

@pytest.mark.rf_deploy({str(FIXTURES / "order_fulfilment_c8.bpmn")!r})
def test_mixed(rf_engine, rf_handlers):
    rf_handlers.include(real)
    with pytest.raises(RetailflowError, match="already has a real handler"):
        rf_handlers.mock("inventory.reserve")
    order = start("order_fulfilment_c8", variables={{"order_id": "SO-1", "items": ["TEA"]}})
    assert_that(order).has_variables(stock_reserved=True).is_waiting_at("wait_for_payment")
"""
    )
    pytester.runpytest(*QUIET).assert_outcomes(passed=1)
