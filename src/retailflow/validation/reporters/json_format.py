"""``--format json``: the report as one JSON object for scripts."""

from __future__ import annotations

import json

from retailflow.model import Severity
from retailflow.validation.report import ValidationReport


def render(report: ValidationReport) -> str:
    """``{"files": [...], "findings": [...], "summary": {"error": n, ...}}``, findings in
    file, line, column order."""
    counts = report.counts()
    return json.dumps(
        {
            "files": report.files,
            "findings": [
                {
                    "file": d.finding.file,
                    "line": d.finding.line,
                    "column": d.column,
                    "severity": str(d.severity),
                    "rule": d.rule,
                    "element_id": d.finding.element_id,
                    "message": d.finding.message,
                    "hint": d.finding.hint,
                }
                for d in report.diagnostics
            ],
            "summary": {str(severity): counts[severity] for severity in Severity},
        },
        indent=2,
    )
