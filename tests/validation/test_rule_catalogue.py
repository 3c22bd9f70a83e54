"""The catalogue is the contract with users' configuration: every rule any check can report
is in it, so it can be configured, documented and listed in SARIF."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from retailflow.model import Severity
from retailflow.validation import RULES, Category

SOURCE = Path(__file__).parents[2] / "src" / "retailflow"
RULE_ID = re.compile(r"[a-z]+(?:-[a-z]+)+")
REPORTING_CALLS = {"Finding", "_add", "finding", "_refuse"}


def reported_rule_ids() -> set[str]:
    """Rule ids passed as string literals to the calls that make findings, across src/."""
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        for call in ast.walk(ast.parse(path.read_text())):
            if not isinstance(call, ast.Call):
                continue
            name = getattr(call.func, "id", None) or getattr(call.func, "attr", None)
            if name not in REPORTING_CALLS:
                continue
            found.update(
                arg.value
                for arg in call.args[:3]
                if isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and RULE_ID.fullmatch(arg.value)
            )
    return found


def test_every_rule_a_check_reports_is_in_the_catalogue() -> None:
    reported = reported_rule_ids()

    assert len(reported) > 30  # the scan finds the checks
    assert reported - set(RULES) == set()


def test_rules_borrowed_from_bpmnlint_keep_its_default_severities() -> None:
    bpmnlint_recommended = {  # bpmnlint 11, config/recommended.js
        "ad-hoc-sub-process": "error",
        "conditional-flows": "error",
        "end-event-required": "error",
        "event-based-gateway": "error",
        "event-sub-process-typed-start-event": "error",
        "fake-join": "warning",
        "global": "warning",
        "label-required": "error",
        "link-event": "error",
        "no-bpmndi": "error",
        "no-complex-gateway": "error",
        "no-disconnected": "error",
        "no-duplicate-sequence-flows": "error",
        "no-gateway-join-fork": "error",
        "no-implicit-split": "error",
        "no-implicit-end": "error",
        "no-implicit-start": "error",
        "no-overlapping-elements": "warning",
        "single-blank-start-event": "error",
        "single-event-definition": "error",
        "start-event-required": "error",
        "sub-process-blank-start-event": "error",
        "superfluous-gateway": "warning",
        "superfluous-label": "warning",
        "superfluous-termination": "warning",
    }
    ours = {rule.id: str(rule.severity) for rule in RULES.values() if rule.bpmnlint}

    assert ours.pop("no-inclusive-gateway") == "None"  # off: retailflow runs them
    assert ours == bpmnlint_recommended


def test_every_rule_has_a_category_and_a_summary() -> None:
    assert all(rule.summary and rule.category in Category for rule in RULES.values())
    assert {rule.severity for rule in RULES.values()} <= {Severity.ERROR, Severity.WARNING, None}
