"""Every output format, compared with a golden file made from one broken process: what CI
systems parse must not change by accident. SARIF is checked against the SARIF 2.1.0 schema and
JUnit is parsed back."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
from lxml import etree
from rich.console import Console
from shop_handlers import registry

from retailflow.validation import ValidationReport, validate
from retailflow.validation.reporters import MACHINE_FORMATS
from retailflow.validation.reporters.text import print_report

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
SARIF_SCHEMA = json.loads((HERE / "schemas" / "sarif-2.1.0-rtm.5.json").read_text())
EXPECTED_RULES = [
    "handler-input-unset",
    "label-required",
    "expression-invalid",
    "conditional-flows",
    "no-bpmndi",
]


@pytest.fixture
def report(monkeypatch: pytest.MonkeyPatch) -> ValidationReport:
    monkeypatch.chdir(HERE)  # file names in the output are relative, as in CI
    result = validate(["fixtures/broken_order.bpmn"], handlers=registry)
    result.seconds = 0.25  # the one thing that differs between runs
    return result


def golden(name: str, text: str) -> str:
    """The golden text; RETAILFLOW_UPDATE_GOLDEN=1 rewrites it (review the diff!)."""
    path = GOLDEN / name
    if os.environ.get("RETAILFLOW_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    return path.read_text()


def without_version(text: str) -> str:
    return re.sub(r'"version": "\d[^"]*"', '"version": "X"', text)


def test_the_broken_file_reports_each_problem_once(report: ValidationReport) -> None:
    assert [d.rule for d in report.diagnostics] == EXPECTED_RULES


def test_text_output_matches_the_golden_file(report: ValidationReport) -> None:
    console = Console(record=True, width=300, color_system=None, force_terminal=False)
    print_report(report, console)
    text = console.export_text()

    assert text == golden("broken_order.txt", text)
    assert "fixtures/broken_order.bpmn:24:5: error conditional-flows [Flow_no] " in text


@pytest.mark.parametrize(
    ("output_format", "suffix"),
    [("json", "json"), ("junit", "xml"), ("github", "github.txt"), ("sarif", "sarif")],
)
def test_machine_output_matches_the_golden_file(
    report: ValidationReport, output_format: str, suffix: str
) -> None:
    text = without_version(MACHINE_FORMATS[output_format](report))

    assert text == golden(f"broken_order.{suffix}", text)


def test_sarif_output_is_valid_sarif_2_1_0(report: ValidationReport) -> None:
    log = json.loads(MACHINE_FORMATS["sarif"](report))

    jsonschema.validate(log, SARIF_SCHEMA)
    results = log["runs"][0]["results"]
    assert [result["ruleId"] for result in results] == EXPECTED_RULES
    region = results[3]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 24, "startColumn": 5}
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert all(rules[result["ruleIndex"]]["id"] == result["ruleId"] for result in results)


def test_a_broken_sarif_log_fails_the_schema_check(report: ValidationReport) -> None:
    log = json.loads(MACHINE_FORMATS["sarif"](report))
    log["runs"][0]["results"][0]["level"] = "fatal"

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(log, SARIF_SCHEMA)


def test_junit_output_parses_back_to_one_failing_case_per_finding(report: ValidationReport) -> None:
    suites = etree.fromstring(MACHINE_FORMATS["junit"](report).encode())

    assert suites.tag == "testsuites"
    assert suites.get("failures") == "5"
    [suite] = suites.findall("testsuite")
    assert suite.get("name") == "fixtures/broken_order.bpmn"
    failures = suite.findall("testcase/failure")
    assert [failure.get("type") for failure in failures] == [
        "warning",
        "error",
        "error",
        "error",
        "error",
    ]
    assert suite.findall("testcase")[3].get("name") == "conditional-flows [Flow_no] 24:5"


def test_junit_shows_a_clean_file_as_one_passing_case() -> None:
    suites = etree.fromstring(
        MACHINE_FORMATS["junit"](
            validate([str(HERE.parent / "fixtures" / "order_fulfilment_c8.bpmn")])
        ).encode()
    )

    assert suites.get("failures") == "0"
    assert {case.get("name") for case in suites.iter("testcase")} == {"no findings"}
    assert suites.find("testsuite/testcase/failure") is None


def test_github_annotations_escape_what_the_runner_would_misread(report: ValidationReport) -> None:
    lines = MACHINE_FORMATS["github"](report).splitlines()

    assert lines[3] == (
        "::error file=fixtures/broken_order.bpmn,line=24,col=5,title=conditional-flows "
        "[Flow_no]::Sequence flow is missing condition (hint: give the flow a condition, "
        "or mark it as the default flow)"
    )
    assert lines[0].startswith("::warning ")
    assert all("\n" not in line for line in lines)


def test_json_output_has_findings_and_a_summary(report: ValidationReport) -> None:
    document = json.loads(MACHINE_FORMATS["json"](report))

    assert document["summary"] == {"error": 4, "warning": 1, "info": 0}
    assert document["files"] == ["fixtures/broken_order.bpmn"]
    assert document["findings"][1] == {
        "file": "fixtures/broken_order.bpmn",
        "line": 8,
        "column": 5,
        "severity": "error",
        "rule": "label-required",
        "element_id": "reserve_stock",
        "message": "Element is missing label/name",
        "hint": "name it in Modeler, as the business would say it",
    }


def test_text_output_is_coloured_on_a_terminal_only(report: ValidationReport) -> None:
    terminal, pipe = io.StringIO(), io.StringIO()
    print_report(report, Console(file=terminal, force_terminal=True, width=300))
    print_report(report, Console(file=pipe, force_terminal=False, width=300))

    assert "\x1b[" in terminal.getvalue()
    assert "\x1b[" not in pipe.getvalue()
