"""The coverage report as JSON, for CI dashboards and scripts: per process every flow node and
sequence flow with how often it was passed, per decision every rule with how often it hit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from retailflow.testing.coverage import CoverageCollector, DecisionCoverage, ProcessCoverage, Ratio


def coverage_document(collector: CoverageCollector) -> dict[str, Any]:
    """The report as plain data (what ``write_json`` writes)."""
    return {
        "total": _ratio(collector.total),
        "processes": [_process(process) for process in collector.processes],
        "decisions": [_decision(decision) for decision in collector.decisions],
    }


def write_json(collector: CoverageCollector, path: Path) -> None:
    """Write the report to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(coverage_document(collector), indent=2), encoding="utf-8")


def _ratio(ratio: Ratio) -> dict[str, Any]:
    return {"covered": ratio.covered, "total": ratio.total, "percent": round(ratio.percent, 2)}


def _process(process: ProcessCoverage) -> dict[str, Any]:
    model = process.model
    return {
        "process_id": model.process_id,
        "name": model.name,
        "file": model.file,
        "content_hash": model.content_hash,
        "instances": process.instances,
        "flow_nodes": {
            **_ratio(process.nodes),
            "elements": [
                {
                    "id": node.id,
                    "type": node.tag,
                    "name": node.name,
                    "covered": node.id in process.reached,
                    "passed": process.passed[node.id],
                }
                for node in model.nodes.values()
            ],
        },
        "sequence_flows": {
            **_ratio(process.flows),
            "elements": [
                {
                    "id": flow.id,
                    "name": flow.name,
                    "source": flow.source,
                    "target": flow.target,
                    "covered": flow.id in process.taken,
                    "taken": process.taken[flow.id],
                }
                for flow in model.flows.values()
            ],
        },
        "total": _ratio(process.total),
    }


def _decision(decision: DecisionCoverage) -> dict[str, Any]:
    return {
        "decision_id": decision.decision.id,
        "name": decision.decision.name,
        "file": decision.file,
        "evaluations": decision.evaluations,
        "rules": {
            **_ratio(decision.rules),
            "elements": [
                {"id": rule_id, "number": number, "hits": decision.hits[rule_id]}
                for number, rule_id in enumerate(decision.rule_ids, 1)
            ],
        },
    }
