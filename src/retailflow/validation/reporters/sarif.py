"""``--format sarif``: SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.

Every catalogue rule is listed under the tool, so a viewer can show each rule's description
and default level; results point at the file, line, column and the element id.
"""

from __future__ import annotations

import json
from importlib import metadata

from retailflow.model import Severity
from retailflow.validation.report import ValidationReport
from retailflow.validation.rules import RULES

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def render(report: ValidationReport) -> str:
    """The report as one SARIF log with one run."""
    index = {rule_id: position for position, rule_id in enumerate(RULES)}
    results = []
    for diagnostic in report.diagnostics:
        finding = diagnostic.finding
        result: dict[str, object] = {
            "ruleId": finding.rule,
            "level": _LEVELS[diagnostic.severity],
            "message": {"text": finding.message + (f" ({finding.hint})" if finding.hint else "")},
        }
        if finding.rule in index:
            result["ruleIndex"] = index[finding.rule]
        if finding.file:
            region: dict[str, int] = {}
            if finding.line is not None:
                region["startLine"] = finding.line
                if diagnostic.column is not None:
                    region["startColumn"] = diagnostic.column
            location: dict[str, object] = {
                "physicalLocation": {
                    "artifactLocation": {"uri": finding.file},
                    **({"region": region} if region else {}),
                }
            }
            if finding.element_id:
                location["logicalLocations"] = [{"name": finding.element_id, "kind": "element"}]
            result["locations"] = [location]
        results.append(result)
    return json.dumps(
        {
            "$schema": SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "retailflow validate",
                            "version": _version(),
                            "rules": [
                                {
                                    "id": rule.id,
                                    "shortDescription": {"text": rule.summary},
                                    "defaultConfiguration": {
                                        "enabled": rule.severity is not None,
                                        "level": _LEVELS[rule.severity or Severity.WARNING],
                                    },
                                    "properties": {
                                        "category": str(rule.category),
                                        "bpmnlint": rule.bpmnlint,
                                    },
                                }
                                for rule in RULES.values()
                            ],
                        }
                    },
                    "artifacts": [{"location": {"uri": file}} for file in report.files],
                    "results": results,
                }
            ],
        },
        indent=2,
    )


def _version() -> str:
    try:
        return metadata.version("retailflow")
    except metadata.PackageNotFoundError:
        return "0+unknown"
