"""The conformance suite's files and what each promises: run to its end, or be refused.

Each construct is a file per dialect, in the exact shape Camunda Modeler 5 writes, under
``c8/`` (Camunda 8) and ``c7/`` (Camunda 7). A sidecar ``<name>.json`` beside a file says how
to drive it (see ``Drive``); without one, the file runs with default handlers. A ``<name>.dmn``
beside it is deployed with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUITE = Path(__file__).resolve().parent
DIALECTS = {"c8": "Camunda 8", "c7": "Camunda 7"}
TABLE_START, TABLE_END = "<!-- conformance:start -->", "<!-- conformance:end -->"


@dataclass(frozen=True)
class Drive:
    """How the runner drives one file; every field is optional in the sidecar."""

    refused: str | None = None
    """A finding rule id: validate and deploy must both refuse the file with it."""
    process: str | None = None
    """The process to start (default: the file's only executable process)."""
    business_key: str | None = None
    """The business key to start with (Camunda 7 correlates messages on it)."""
    start_message: dict[str, Any] | None = None
    """``{"name", "key", "variables"}``: start by correlating this message instead."""
    start_signal: dict[str, Any] | None = None
    """``{"name", "variables"}``: start by broadcasting this signal instead."""
    start_timer: bool = False
    """Start by letting the clock reach the process's timer start event instead."""
    variables: dict[str, Any] = field(default_factory=dict)
    handlers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per job type or delegate name: ``{"returns": {...}}`` or ``{"bpmn_error": "CODE"}``."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    """Correlated, each once, when a subscription for it waits."""
    signals: list[dict[str, Any]] = field(default_factory=list)
    """Broadcast, each once, when the instance waits for it."""
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Variables to complete a user task with, by element id (default: none)."""
    end: list[str] = field(default_factory=list)
    """Element ids the instance must have completed (its end events)."""
    expect_variables: dict[str, Any] = field(default_factory=dict)
    expect_calls: dict[str, int] = field(default_factory=dict)
    """How many times a job type or delegate name must have been called (a loop's count)."""


@dataclass(frozen=True)
class Case:
    """One conformance file: its dialect, construct name and how to drive it."""

    path: Path
    dialect: str
    drive: Drive

    @property
    def construct(self) -> str:
        return self.path.stem

    @property
    def files(self) -> list[Path]:
        """The file and any decision table beside it: one deployment."""
        dmn = self.path.with_suffix(".dmn")
        return [self.path, dmn] if dmn.exists() else [self.path]

    def __str__(self) -> str:
        return f"{self.dialect}/{self.construct}"


def cases() -> list[Case]:
    """Every conformance file, by dialect and name."""
    found = []
    for dialect in DIALECTS:
        for path in sorted((SUITE / dialect).glob("*.bpmn")):
            sidecar = path.with_suffix(".json")
            drive = Drive(**_sidecar(sidecar)) if sidecar.exists() else Drive()
            found.append(Case(path, dialect, drive))
    return found


def _sidecar(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - set(Drive.__dataclass_fields__) - {"title", "note"}
    if unknown:
        raise ValueError(f"{path}: unknown sidecar keys {sorted(unknown)}")
    return {key: value for key, value in data.items() if key not in ("title", "note")}


def table() -> str:
    """The construct-by-dialect table docs/modeling.md carries, rendered from the suite."""
    by_construct: dict[str, dict[str, Case]] = {}
    notes: dict[str, str] = {}
    for case in cases():
        by_construct.setdefault(case.construct, {})[case.dialect] = case
        sidecar = case.path.with_suffix(".json")
        if sidecar.exists():
            note = json.loads(sidecar.read_text(encoding="utf-8")).get("note")
            if note:
                notes.setdefault(case.construct, note)
    lines = ["| construct | Camunda 8 | Camunda 7 | notes |", "| --- | --- | --- | --- |"]
    for construct in sorted(by_construct):
        cells = []
        for dialect in DIALECTS:
            case = by_construct[construct].get(dialect)
            if case is None:
                cells.append("—")
            elif case.drive.refused:
                cells.append(f"refused (`{case.drive.refused}`)")
            else:
                cells.append("runs")
        title = construct.replace("_", " ")
        lines.append(f"| {title} | {' | '.join(cells)} | {notes.get(construct, '')} |")
    return "\n".join(lines) + "\n"


def write_docs(page: Path) -> None:
    """Put the rendered table between the markers of ``page`` (docs/modeling.md)."""
    text = page.read_text(encoding="utf-8")
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    page.write_text(f"{head}{TABLE_START}\n{table()}{TABLE_END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    write_docs(SUITE.parents[1] / "docs" / "modeling.md")
