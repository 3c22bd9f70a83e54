"""Coverage as a user reads it: exact numbers in the table and the JSON, a diagram in the HTML,
and a run that fails below --rf-cov-fail-under."""

from __future__ import annotations

import json
import re

import pytest

from scenario_kit import FIXTURES

pytest_plugins = ["pytester"]

# The inner runs need neither the cache nor hypothesis, whose summary alone takes a second.
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:asyncio")

ROUTE_TESTS = f"""
import pytest
from retailflow.testing import assert_that, start

pytestmark = pytest.mark.rf_deploy({str(FIXTURES / "decision.bpmn")!r},
                                   {str(FIXTURES / "fulfilment_route.dmn")!r})


def test_a_nearby_web_order_ships_from_the_store(rf_engine, rf_handlers):
    rf_handlers.mock("test.store")
    order = start("decision_c8", variables={{"channel": "web", "distance_km": 3}})
    assert_that(order).is_ended_at("done").has_passed("ship_from_store")
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_route=ROUTE_TESTS)
    return pytester.runpytest(*QUIET, *args)


def test_one_branch_of_a_gateway_covers_exactly_that_branch(pytester: pytest.Pytester) -> None:
    # decision_c8 draws 8 flow nodes and 9 sequence flows; the store branch passes 6 nodes
    # (not ship_from_warehouse, click_and_collect) and 5 flows (not the other two branches'
    # two flows each).
    result = run(pytester, "--rf-cov")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*retailflow BPMN coverage*",
            "process*file*instances*flow nodes*seq. flows*total",
            "decision_c8*decision.bpmn*1*6/8  75.0%*5/9  55.6%*64.7%",
            "TOTAL*64.7%",
            "decision*file*evaluations*rules hit",
            "fulfilment_route*fulfilment_route.dmn*1*1/3  33.3%",
        ]
    )


def test_the_json_report_lists_every_element_with_its_counts(pytester: pytest.Pytester) -> None:
    run(pytester, "--rf-cov-report=json:reports/coverage.json").assert_outcomes(passed=1)
    report = json.loads((pytester.path / "reports" / "coverage.json").read_text())
    assert report["total"] == {"covered": 11, "total": 17, "percent": 64.71}
    [process] = report["processes"]
    nodes = {node["id"]: node for node in process["flow_nodes"]["elements"]}
    assert (process["flow_nodes"]["covered"], process["flow_nodes"]["total"]) == (6, 8)
    assert not nodes["click_and_collect"]["covered"] and nodes["ship_from_store"]["passed"] == 1
    taken = [flow["id"] for flow in process["sequence_flows"]["elements"] if flow["covered"]]
    assert taken == ["Flow_1uqkhzn", "Flow_1xleaee", "Flow_0mgyur8", "Flow_12ajoo3", "Flow_06kl1u4"]
    [decision] = report["decisions"]
    assert decision["evaluations"] == 1
    assert [rule["hits"] for rule in decision["rules"]["elements"]] == [0, 1, 0]


def test_the_html_report_draws_the_diagram_with_the_covered_elements_coloured(
    pytester: pytest.Pytester,
) -> None:
    run(pytester, "--rf-cov-report=html").assert_outcomes(passed=1)
    html = (pytester.path / "rf-coverage" / "index.html").read_text()
    assert (
        html.count("<svg") == 1
        and "<script" not in html
        and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    shapes = re.findall(r'<g class="shape \w+ mark-(\w+)"', html)
    flows = re.findall(r'<g class="edge sequenceFlow mark-(\w+)"', html)
    assert (shapes.count("covered"), shapes.count("missed")) == (6, 2)
    assert (flows.count("covered"), flows.count("missed")) == (5, 4)
    assert 'data-element-id="click_and_collect"' in html


def test_a_run_below_the_threshold_fails_and_says_so(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--rf-cov-fail-under=80")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["FAIL: BPMN coverage 64.71% is below --rf-cov-fail-under=80%"])


def test_a_run_at_or_above_the_threshold_passes(pytester: pytest.Pytester) -> None:
    assert run(pytester, "--rf-cov-fail-under=64.7").ret == pytest.ExitCode.OK


def test_a_run_that_leaves_dmn_rules_unhit_fails_the_rules_threshold(
    pytester: pytest.Pytester,
) -> None:
    result = run(pytester, "--rf-cov-rules-fail-under=50")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["FAIL: DMN rule coverage 33.33% is below --rf-cov-rules-fail-under=50%"]
    )
    assert run(pytester, "--rf-cov-rules-fail-under=33").ret == pytest.ExitCode.OK


def test_without_a_coverage_option_nothing_is_collected_or_printed(
    pytester: pytest.Pytester,
) -> None:
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert "BPMN coverage" not in result.stdout.str()
    assert not (pytester.path / "rf-coverage" / "index.html").exists()


def test_a_deployed_process_no_test_starts_counts_as_uncovered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_idle=f"""
import pytest

@pytest.mark.rf_deploy({str(FIXTURES / "gateways.bpmn")!r})
def test_only_deployed(rf_engine):
    pass
"""
    )
    result = pytester.runpytest(*QUIET, "--rf-cov")
    result.stdout.fnmatch_lines(["gateways*gateways.bpmn*0*0/15   0.0%*0/18   0.0%*0.0%"])


def test_coverage_adds_up_over_tests_and_counts_the_elements_of_a_called_process(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_calls=f"""
import pytest
from retailflow.testing import assert_that, start

pytestmark = pytest.mark.rf_deploy({str(FIXTURES / "call_activity.bpmn")!r})

@pytest.mark.parametrize("run", [1, 2])
def test_parent_calls_child(rf_engine, rf_handlers, run):
    rf_handlers.mock("test.prepare")
    rf_handlers.mock("test.child")
    assert_that(start("parent_process")).is_ended()
"""
    )
    result = pytester.runpytest(*QUIET, "--rf-cov")
    result.stdout.fnmatch_lines(
        [
            "child_process*call_activity.bpmn*0*3/3 100.0%*2/2 100.0%*100.0%",
            "parent_process*call_activity.bpmn*2*4/4 100.0%*3/3 100.0%*100.0%",
        ]
    )


def test_a_called_process_whose_element_ids_repeat_the_callers_is_counted_apart(
    pytester: pytest.Pytester,
) -> None:
    """Two files as Modeler draws them: both start at ``StartEvent_1`` and end at
    ``EndEvent_1``. Each process's elements count for that process only."""
    pytester.makepyfile(
        test_calls=f"""
import pytest
from retailflow.testing import assert_that, start

pytestmark = pytest.mark.rf_deploy({str(FIXTURES / "modeler_ids")!r})

def test_parent_calls_child(rf_engine, rf_handlers):
    rf_handlers.mock("test.prepare")
    rf_handlers.mock("test.child")
    assert_that(start("drawn_parent")).is_ended()
"""
    )
    result = pytester.runpytest(*QUIET, "--rf-cov")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "drawn_child*child.bpmn*0*3/3 100.0%*2/2 100.0%*100.0%",
            "drawn_parent*parent.bpmn*1*4/4 100.0%*3/3 100.0%*100.0%",
        ]
    )
