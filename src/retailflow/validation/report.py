"""What one validation run found, ready for any output format.

A ``Diagnostic`` is a ``Finding`` at the severity configuration gave it, plus the column that
editors and code-scanning UIs jump to.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from retailflow.model import Finding, Severity

SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}
"""How bad each severity is, for ``--fail-on``."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding as reported: ``finding.severity`` is already the configured severity."""

    finding: Finding
    column: int | None = None

    @property
    def severity(self) -> Severity:
        """The severity the finding is reported at."""
        return self.finding.severity

    @property
    def rule(self) -> str:
        """The rule id."""
        return self.finding.rule


@dataclass(slots=True)
class ValidationReport:
    """Every file checked and every diagnostic, sorted by file, line and column."""

    files: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> Counter[Severity]:
        """How many diagnostics there are of each severity."""
        return Counter(diagnostic.severity for diagnostic in self.diagnostics)

    def fails(self, fail_on: Severity) -> bool:
        """Whether any diagnostic is at least as bad as ``fail_on`` (exit code 1)."""
        threshold = SEVERITY_RANK[fail_on]
        return any(SEVERITY_RANK[d.severity] >= threshold for d in self.diagnostics)

    def by_file(self) -> dict[str | None, list[Diagnostic]]:
        """Diagnostics grouped by file, every checked file present (clean ones empty)."""
        grouped: dict[str | None, list[Diagnostic]] = {file: [] for file in self.files}
        for diagnostic in self.diagnostics:
            grouped.setdefault(diagnostic.finding.file, []).append(diagnostic)
        return grouped
