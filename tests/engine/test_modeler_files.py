"""Files as Camunda Modeler 5 writes them: what `retailflow validate` and `Engine.deploy` accept
or refuse, and that they agree (each refusal a finding naming the element)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retailflow import Engine, HandlerRegistry
from retailflow.model import DeploymentError, Finding, Severity
from retailflow.validation import validate
from scenario_kit import ROOT

CONFORMANCE = ROOT / "tests" / "conformance"
DIALECTS = [pytest.param(CONFORMANCE / dialect, id=dialect) for dialect in ("c8", "c7")]


def validate_errors(path: Path) -> list[tuple[str, str | None]]:
    report = validate([path])
    return [(d.finding.rule, d.finding.element_id) for d in report.diagnostics
            if d.finding.severity == Severity.ERROR]


def deploy_errors(path: Path) -> list[tuple[str, str | None]]:
    try:
        Engine(handlers=HandlerRegistry()).deploy(path, require_handlers=False)
    except DeploymentError as error:
        return [(f.rule, f.element_id) for f in error.findings if f.severity == Severity.ERROR]
    return []


def refusals(path: Path) -> list[tuple[str, str | None]]:
    """The errors both validate and deploy report; they must agree."""
    found = deploy_errors(path)
    assert sorted(validate_errors(path)) == sorted(found)
    return found


def findings_of(path: Path) -> list[Finding]:
    try:
        Engine(handlers=HandlerRegistry()).deploy(path, require_handlers=False)
    except DeploymentError as error:
        return list(error.findings)
    return []


# duplicate-id ---------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", DIALECTS)
def test_ids_on_extension_elements_may_repeat_element_ids(folder: Path) -> None:
    # A form field, an embedded form and a team's own audit extension carry ids of their own.
    assert refusals(folder / "extension_ids.bpmn") == []
