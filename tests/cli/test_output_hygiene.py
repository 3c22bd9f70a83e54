"""What a command prints never carries a file's or a user's control characters raw: no
terminal escapes from a business key, no forged log lines from an error message, and a JUnit
report that stays XML whatever the file is called."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

from lxml import etree
from typer.testing import CliRunner

from retailflow import Engine
from retailflow.cli.app import app
from retailflow.cli.worker import KeyValueFormatter
from scenario_kit import FIXTURES

runner = CliRunner()
ESCAPE = "\x1b[2J\x1b[31m"


def test_junit_report_on_a_file_named_with_control_characters_is_xml_and_exit_1(
    tmp_path: Path,
) -> None:
    strange = tmp_path / "bad\x01name\x1b.bpmn"
    shutil.copy(FIXTURES / "unsupported.bpmn", strange)
    result = runner.invoke(app, ["validate", "--format", "junit", str(strange)])
    assert result.exit_code == 1, result.output  # findings, not a crash
    suites = etree.fromstring(result.stdout.encode())
    assert "bad\\x01name\\x1b.bpmn" in suites.find("testsuite").get("name")


def test_text_report_escapes_control_characters_of_file_names(tmp_path: Path) -> None:
    strange = tmp_path / f"order{ESCAPE}.bpmn"
    shutil.copy(FIXTURES / "unsupported.bpmn", strange)
    result = runner.invoke(app, ["validate", str(strange)])
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout
    assert "order\\x1b[2J\\x1b[31m.bpmn" in result.stdout


def test_operations_tables_escape_business_keys_and_take_no_markup(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    with Engine(url) as engine:
        engine.deploy(FIXTURES / "order_pipeline.bpmn", require_handlers=False)
        instance = engine.start("order_pipeline", business_key=f"SO-1{ESCAPE}[bold]x[/]")
    listing = runner.invoke(app, ["instances", "--db", url])
    shown = runner.invoke(app, ["show", instance.id, "--db", url])
    assert listing.exit_code == 0 and shown.exit_code == 0, listing.output + shown.output
    assert "\x1b" not in listing.stdout + shown.stdout
    assert "SO-1\\x1b[2J\\x1b[31m[bold]x[/]" in shown.stdout


def test_a_newline_in_an_error_cannot_forge_a_worker_log_line() -> None:
    formatter = KeyValueFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError("boom\nINFO job done worker_id=w9 instance_id=forged")
    except ValueError:
        record = logging.LogRecord(
            "w",
            logging.ERROR,
            __file__,
            1,
            "job failed: %s",
            ("late\nINFO forged",),
            sys.exc_info(),
        )
    record.instance_id = "i-1"
    lines = formatter.format(record).splitlines()
    assert lines[0] == "ERROR job failed: late\\nINFO forged instance_id=i-1"
    assert all(line.startswith("    ") for line in lines[1:])
    assert any("boom\\nINFO job done worker_id=w9" in line for line in lines[1:])
