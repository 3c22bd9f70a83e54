"""``retailflow validate`` as CI and pre-commit run it: configuration, severities, exit codes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retailflow.cli.app import app
from retailflow.validation import RULES

HERE = Path(__file__).parent
BROKEN = HERE / "fixtures" / "broken_order.bpmn"
PROCESSES = HERE.parents[1] / "processes"
runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["validate", *args])
    return result.exit_code, result.output


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with a pyproject.toml and a processes/ folder holding the broken file."""
    (tmp_path / "processes").mkdir()
    shutil.copy(BROKEN, tmp_path / "processes" / "order.bpmn")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'shop'\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def configure(project: Path, section: str) -> None:
    (project / "pyproject.toml").write_text(f"[tool.retailflow.validate]\n{section}\n")


def test_the_shipped_processes_validate_clean() -> None:
    code, output = run(str(PROCESSES))
    assert code == 0 and output.endswith("no findings\n")


def test_findings_at_error_exit_1_and_fail_on_decides_what_counts(project: Path) -> None:
    assert run()[0] == 1
    configure(
        project,
        '[tool.retailflow.validate.rules]\nlabel-required = "warning"\n'
        'conditional-flows = "off"\nexpression-invalid = "info"\n'
        'no-bpmndi = "warn"',
    )
    code, output = run()
    assert code == 0
    assert "warning label-required [reserve_stock]" in output
    assert "conditional-flows" not in output
    assert run("--fail-on", "warning")[0] == 1
    assert (
        run("--fail-on", "warning", "--rule", "label-required=off", "--rule", "no-bpmndi=info")[0]
        == 0
    )
    assert (
        run("--fail-on", "info", "--rule", "label-required=off", "--rule", "no-bpmndi=info")[0] == 1
    )


def test_paths_and_handlers_come_from_the_configuration(project: Path) -> None:
    (project / "elsewhere").mkdir()
    shutil.move(project / "processes" / "order.bpmn", project / "elsewhere" / "order.bpmn")
    shutil.copy(HERE / "shop_handlers.py", project / "shop_handlers.py")
    configure(project, 'paths = ["elsewhere"]\nhandlers = "shop_handlers:build_registry"')

    code, output = run("--format", "json")

    findings = json.loads(output)["findings"]
    assert code == 1
    assert {finding["rule"] for finding in findings} >= {"handler-input-unset"}
    assert all(finding["file"].endswith("elsewhere/order.bpmn") for finding in findings)


def test_start_variables_silence_the_input_rule(project: Path) -> None:
    shutil.copy(HERE / "shop_handlers.py", project / "shop_handlers.py")
    configure(
        project, 'handlers = "shop_handlers:registry"\nstart-variables = ["order_id", "items"]'
    )

    assert "handler-input-unset" not in run()[1]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('rules = { "no-such-rule" = "off" }', "no rule is called 'no-such-rule'"),
        ('fail-on = "sometimes"', "is not a severity"),
        ('colour = "red"', "unknown key(s) colour"),
        ('handlers = "no_such_module:registry"', "cannot import no_such_module"),
    ],
)
def test_a_configuration_mistake_exits_2_naming_the_key(
    project: Path, section: str, message: str
) -> None:
    configure(project, section)

    code, output = run()

    assert code == 2
    assert message in output.replace("\n", " ")


def test_usage_errors_exit_2(project: Path) -> None:
    assert run("--format", "yaml")[0] == 2
    assert run("--rule", "label-required")[0] == 2
    assert run("--config", "missing.toml")[0] == 2


def test_a_missing_path_is_an_error_finding_naming_it(project: Path) -> None:
    code, output = run("no/such/dir")

    assert code == 1
    assert "file-not-found" in output and "no/such/dir" in output


def test_a_bad_path_hides_none_of_the_findings_in_the_files_that_can_be_read(project: Path) -> None:
    code, output = run("processes", "no/such/dir", "--format", "json")
    report = json.loads(output)

    assert code == 1
    assert report["files"] == ["processes/order.bpmn"]
    rules = {finding["rule"] for finding in report["findings"]}
    assert "file-not-found" in rules and "label-required" in rules


def test_list_rules_shows_every_rule_with_its_default() -> None:
    code, output = run("--list-rules")

    assert code == 0
    for rule_id in ("no-implicit-split", "no-bpmndi", "handler-unused", "schema-invalid"):
        assert rule_id in output


def test_the_test_fixtures_report_only_what_they_exist_to_show() -> None:
    """The fixtures are bpmnlint-clean except where noted in their README; validate agrees,
    so its Python rules raise no false alarm on real Modeler files."""
    code, output = run("--format", "json", str(HERE.parent / "fixtures"))

    found = {(f["rule"], f["element_id"]) for f in json.loads(output)["findings"]}
    assert code == 1
    assert found == {
        ("process-not-executable", "draft_process"),
        ("no-complex-gateway", "complex_split"),
        ("unsupported-element", "complex_split"),
    }


def test_a_condition_the_sandbox_refuses_is_an_error_at_its_flow(tmp_path: Path) -> None:
    content = BROKEN.read_text().replace("=stock_reserved = ", "__import__('os').system('true')")
    target = tmp_path / "order.bpmn"
    target.write_text(content)

    code, output = run("--format", "json", str(target))

    refused = [f for f in json.loads(output)["findings"] if f["rule"] == "expression-invalid"]
    assert code == 1
    assert [(f["element_id"], f["line"]) for f in refused] == [("Flow_yes", 22)]


def test_the_docs_list_every_rule() -> None:
    docs = (HERE.parents[1] / "docs" / "validate.md").read_text()

    listed = set(re.findall(r"^\| `([a-z0-9-]+)`", docs, flags=re.MULTILINE))
    assert listed == set(RULES)


def test_the_pre_commit_hook_runs_this_command() -> None:
    hook = (HERE.parents[1] / ".pre-commit-hooks.yaml").read_text()
    settings = dict(re.findall(r"^-? +(\w+): (.+)$", hook, flags=re.MULTILINE))

    assert settings["id"] == "retailflow-validate"
    assert settings["entry"] == "retailflow validate"
    assert settings["pass_filenames"] == "false"
    assert runner.invoke(app, [*settings["entry"].split()[1:], "--help"]).exit_code == 0


def test_configured_paths_are_reported_relative_to_the_current_directory(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")

    code, output = run("--format", "json", "--config", str(project / "pyproject.toml"))

    assert code == 1
    assert json.loads(output)["files"] == ["../processes/order.bpmn"]


def test_a_crashing_rule_is_an_internal_error_exit_2_not_a_clean_result(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_rule(file: str, root: object) -> list[object]:
        raise KeyError("bug")

    monkeypatch.setattr("retailflow.validation.linter.check_diagram", broken_rule)

    code, output = run()

    assert code == 2
    assert "internal error: KeyError" in output


def test_a_script_the_sandbox_refuses_is_reported_before_any_instance_runs(tmp_path: Path) -> None:
    script = (HERE.parent / "fixtures" / "script_spiff.bpmn").read_text()
    target = tmp_path / "script.bpmn"
    target.write_text(script.replace("total = sum(", "import os\ntotal = sum("))

    code, output = run("--format", "json", str(target))

    [finding] = json.loads(output)["findings"]
    assert code == 1
    assert (finding["rule"], finding["element_id"]) == ("expression-invalid", "compute_total")
    assert "refused by the Python sandbox" in finding["message"]


def test_a_rule_that_is_off_by_default_reports_once_turned_on() -> None:
    gateways = str(HERE.parent / "fixtures" / "gateways.bpmn")

    code, output = run(gateways)
    assert code == 0 and "no-inclusive-gateway" not in output
    code, output = run(gateways, "--rule", "no-inclusive-gateway=warning")
    assert code == 0
    assert output.count("warning no-inclusive-gateway") == 2
    assert run(gateways, "--rule", "no-inclusive-gateway=warning", "--fail-on", "warning")[0] == 1


def test_files_are_checked_together_as_one_deployment() -> None:
    fixtures = HERE.parent / "fixtures"
    alone = str(fixtures / "decision.bpmn")

    code, output = run("--format", "json", alone)
    assert code == 1
    assert [(f["rule"], f["element_id"]) for f in json.loads(output)["findings"]] == [
        ("called-decision-unknown", "decide_route")
    ]
    assert run(alone, str(fixtures / "fulfilment_route.dmn"))[0] == 0


def test_a_decision_table_that_does_not_parse_is_reported_at_its_line(tmp_path: Path) -> None:
    table = (HERE.parent / "fixtures" / "fulfilment_route.dmn").read_text()
    broken = tmp_path / "route.dmn"
    broken.write_text(table.replace("&lt; 10", "&lt; &lt; 10", 1))

    code, output = run("--format", "json", str(broken))

    [finding] = json.loads(output)["findings"]
    assert code == 1
    assert finding["rule"] == "dmn-invalid-expression"
    assert finding["line"] and finding["column"]
