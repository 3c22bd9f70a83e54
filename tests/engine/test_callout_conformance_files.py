"""The conformance files for delegates and listeners deploy and run to their end events as
their sidecars say (or are refused by deploy and validate alike), on every store, until the
conformance runner drives the whole suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retailflow import HandlerRegistry, InstanceStatus
from retailflow.model import DeploymentError, HistoryKind
from retailflow.validation import validate
from scenario_kit import ROOT, EngineFactory

CONFORMANCE = ROOT / "tests" / "conformance"
FILES = sorted(path for pattern in ("delegate-*", "*listener*")
               for path in CONFORMANCE.glob(f"*/{pattern}.bpmn"))


def _sidecar(path: Path) -> dict[str, Any]:
    return json.loads(path.with_suffix(".json").read_text())


def _handlers(sidecar: dict[str, Any]) -> HandlerRegistry:
    handlers = HandlerRegistry()
    for name, behaviour in sidecar.get("handlers", {}).items():
        returns = dict(behaviour.get("returns", {}))
        handlers.register(name, lambda returns=returns, **_: dict(returns))
    return handlers


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_conformance_file_runs_to_its_end_or_is_refused_by_deploy_and_validate(
        make_engine: EngineFactory, path: Path) -> None:
    sidecar = _sidecar(path)
    handlers = _handlers(sidecar)
    engine = make_engine(handlers)
    refused = sidecar.get("refused")
    report = validate([path], handlers=handlers)
    validate_errors = {d.rule for d in report.diagnostics if d.severity == "error"}
    if refused:
        with pytest.raises(DeploymentError) as raised:
            engine.deploy(path)
        assert refused in {finding.rule for finding in raised.value.findings}
        assert refused in validate_errors
        return
    assert validate_errors == set()
    engine.deploy(path)
    instance = engine.start(sidecar["process"], variables=sidecar.get("variables", {}))
    for _ in range(10):
        engine.run()
        for task in engine.tasks(instance=instance.id):
            engine.complete_task(task, {})
    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    ended = {e.element_id for e in engine.history(instance.id)
             if e.kind == HistoryKind.ELEMENT_COMPLETED}
    assert set(sidecar["end"]) <= ended
    for name, value in sidecar.get("expect_variables", {}).items():
        assert finished.variables[name] == value
