"""A validation message that points at the exact place in a process file."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How bad a finding is; any ``ERROR`` stops a deployment."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in a process or decision file.

    ``rule`` is a stable name (``xml-malformed``, ``unsupported-element`` ...) that CI output and
    configuration refer to; ``hint`` says what to do about it.
    """

    severity: Severity
    rule: str
    message: str
    file: str | None = None
    line: int | None = None
    element_id: str | None = None
    hint: str | None = None

    def location(self) -> str:
        """``file:line`` (or as much of it as is known), for messages and logs."""
        where = self.file or "<string>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return where

    def __str__(self) -> str:
        element = f" [{self.element_id}]" if self.element_id else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{self.location()}: {self.severity}: {self.rule}{element}: {self.message}{hint}"
