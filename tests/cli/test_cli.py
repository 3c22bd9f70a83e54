"""The command line, as CI pipelines and people use it: output and exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from scenario_kit import FIXTURES, PROCESSES


def retailflow(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "retailflow.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_validate_exits_0_on_the_shipped_processes() -> None:
    result = retailflow("validate", str(PROCESSES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no findings" in result.stdout


def test_validate_exits_1_and_names_file_line_and_element_for_each_finding() -> None:
    result = retailflow("validate", str(FIXTURES / "unsupported.bpmn"))
    assert result.returncode == 1
    assert "unsupported.bpmn:24:5: error unsupported-element [complex_split]" in result.stdout


def test_validate_json_is_machine_readable() -> None:
    result = retailflow("validate", "--json", str(FIXTURES / "unsupported.bpmn"))
    findings = json.loads(result.stdout)["findings"]
    assert result.returncode == 1
    assert {f["element_id"] for f in findings} >= {"complex_split"}
    assert all(f["line"] and f["file"] for f in findings)


def test_usage_errors_exit_2() -> None:
    assert retailflow("validate", "--no-such-option").returncode == 2
    assert retailflow("no-such-command").returncode == 2


def test_the_demo_simulates_days_of_business_and_prints_the_kpi_report(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = retailflow("demo", "--days", "2", "--orders-per-day", "8", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "published by data_analysis_optimisation" in result.stdout
    orders_placed = int(re.search(r"orders placed\s+\S\s+(\d+)", result.stdout)[1])
    assert orders_placed == 16

    listed = json.loads(retailflow("instances", "--db", str(db), "--json").stdout)
    by_process = Counter(item["process"].split(":")[0] for item in listed)
    assert by_process["order_fulfilment"] == orders_placed
    assert by_process["data_analysis_optimisation"] == 1  # the closing review
    assert json.loads(retailflow("incidents", "--db", str(db), "--json").stdout) == []
    assert (tmp_path / "demo-backoffice.db").exists()
