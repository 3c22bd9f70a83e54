"""``--format github``: GitHub Actions workflow commands, which the pull request shows as
annotations on the changed process file."""

from __future__ import annotations

from retailflow.model import Severity
from retailflow.validation.report import ValidationReport

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def render(report: ValidationReport) -> str:
    """One ``::error file=...,line=...,col=...,title=...::message`` line per finding."""
    lines = []
    for diagnostic in report.diagnostics:
        finding = diagnostic.finding
        properties = []
        if finding.file:
            properties.append(f"file={_property(finding.file)}")
        if finding.line is not None:
            properties.append(f"line={finding.line}")
        if diagnostic.column is not None:
            properties.append(f"col={diagnostic.column}")
        element = f" [{finding.element_id}]" if finding.element_id else ""
        properties.append(f"title={_property(f'{finding.rule}{element}')}")
        hint = f" (hint: {finding.hint})" if finding.hint else ""
        lines.append(
            f"::{_COMMANDS[diagnostic.severity]} {','.join(properties)}::"
            f"{_data(finding.message + hint)}"
        )
    return "\n".join(lines)


def _data(text: str) -> str:
    """Escape a command's message as the Actions runner decodes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
