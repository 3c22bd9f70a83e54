"""The default output, for people: one line per finding, the way compilers print them, so
terminals and editors turn ``file:line:column`` into a link. Colour only on a terminal
(rich decides; ``NO_COLOR`` and ``FORCE_COLOR`` work as usual)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from retailflow.model import Severity
from retailflow.model.printable import printable
from retailflow.validation.report import ValidationReport

_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def print_report(report: ValidationReport, console: Console) -> None:
    """``file:line:column: severity rule [element] message (hint: ...)`` per finding, then a
    summary line."""
    for diagnostic in report.diagnostics:
        finding = diagnostic.finding
        where = ":".join(
            str(part)
            for part in (
                printable(finding.file or "<configuration>"),
                finding.line,
                diagnostic.column,
            )
            if part is not None
        )
        line = Text.assemble(
            (f"{where}: ", "bold"),
            (str(finding.severity), _STYLES[finding.severity]),
            " ",
            (finding.rule, "magenta"),
            f" [{printable(finding.element_id)}]" if finding.element_id else "",
            f" {printable(finding.message)}",
            (f" (hint: {printable(finding.hint)})" if finding.hint else "", "dim"),
        )
        console.print(line, soft_wrap=True, highlight=False)
    counts = report.counts()
    files = f"{len(report.files)} file{'s' if len(report.files) != 1 else ''}"
    if not report.diagnostics:
        console.print(
            Text(f"{files} checked in {report.seconds:.2f}s: no findings", "green"), soft_wrap=True
        )
        return
    parts = [
        f"{counts[severity]} {severity}{'s' if counts[severity] != 1 else ''}"
        for severity in Severity
        if counts[severity]
    ]
    console.print(
        Text(f"{files} checked in {report.seconds:.2f}s: {', '.join(parts)}", "bold"),
        soft_wrap=True,
    )
