"""Output formats for a ``ValidationReport``: one module per format, each a ``render``
function from the report to the text CI reads. ``text`` writes to a rich console instead."""

from __future__ import annotations

from collections.abc import Callable

from retailflow.validation.report import ValidationReport
from retailflow.validation.reporters import github, json_format, junit, sarif

MACHINE_FORMATS: dict[str, Callable[[ValidationReport], str]] = {
    "json": json_format.render,
    "junit": junit.render,
    "github": github.render,
    "sarif": sarif.render,
}
"""Formats for machines, by ``--format`` name; ``text`` (for people) is ``text.print_report``."""

__all__ = ["MACHINE_FORMATS"]
