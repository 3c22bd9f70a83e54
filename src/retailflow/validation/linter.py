"""``validate``: every rule over a set of files, at the severities configuration asks for.

It runs what a deployment runs (``check_sources``: parsing, schema, runtime checks, DMN,
compiling), then the rules only a linter needs: bpmnlint's modelling rules, the diagram rules
and, given the application's handlers, the diagram-against-code rules.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

from retailflow.bpmn import BpmnDocument, read_sources
from retailflow.engine.deployer import check_sources
from retailflow.expressions import ExpressionEngine
from retailflow.handlers import HandlerRegistry
from retailflow.model import Finding
from retailflow.validation.code_rules import check_code
from retailflow.validation.config import ValidateConfig
from retailflow.validation.diagram_rules import check_diagram
from retailflow.validation.locations import SourceColumns
from retailflow.validation.modelling_rules import check_modelling
from retailflow.validation.report import Diagnostic, ValidationReport


def validate(
    paths: Sequence[str | Path],
    config: ValidateConfig | None = None,
    handlers: HandlerRegistry | None = None,
) -> ValidationReport:
    """Check the files under ``paths`` (files, directories, globs) together, as one
    deployment would see them; with ``handlers``, check them against the code too."""
    started = time.perf_counter()
    config = config or ValidateConfig()
    report = ValidationReport()
    # A path that cannot be read is reported beside the files that can, and hides none of them.
    sources, findings = read_sources(paths)
    report.files = [source.name for source in sources]
    checked = check_sources(sources, ExpressionEngine())
    findings.extend(checked.findings)
    documents = [doc for doc in checked.documents if isinstance(doc, BpmnDocument)]
    for document in documents:
        findings.extend(check_modelling(document.name, document.root))
        findings.extend(check_diagram(document.name, document.root))
    if handlers is not None:
        findings.extend(check_code(documents, handlers, config.start_variables))
    columns = SourceColumns({source.name: source.content for source in sources})
    report.diagnostics = _diagnostics(findings, config, columns)
    report.seconds = time.perf_counter() - started
    return report


def _diagnostics(
    findings: Sequence[Finding], config: ValidateConfig, columns: SourceColumns
) -> list[Diagnostic]:
    """Configured severities applied, rules turned off dropped, and one diagnostic per rule
    and element (the deploy-time checks and bpmnlint's rules overlap on a few)."""
    seen: set[tuple[str, str | None, int | None, str | None]] = set()
    diagnostics: list[Diagnostic] = []
    for finding in findings:
        severity = config.severity(finding.rule, finding.severity)
        key = (finding.rule, finding.file, finding.line, finding.element_id)
        if severity is None or key in seen:
            continue
        seen.add(key)
        line, column = columns.locate(finding.file, finding.line, finding.element_id)
        if severity != finding.severity or line != finding.line:
            finding = dataclasses.replace(finding, severity=severity, line=line)
        diagnostics.append(Diagnostic(finding, column))
    diagnostics.sort(
        key=lambda d: (d.finding.file or "", d.finding.line or 0, d.column or 0, d.rule)
    )
    return diagnostics
