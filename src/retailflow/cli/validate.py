"""``retailflow validate``: check process files the way a deployment does."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from retailflow.cli.output import JsonOption, console
from retailflow.engine import Engine
from retailflow.model import DeploymentError, Severity


def validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files, directories or globs.")] = None,
    output_json: JsonOption = False,
) -> None:
    """Check process files the way a deployment does; exit 1 if any error is found."""
    targets = [str(path) for path in paths or [Path("processes")]]
    findings = []
    with Engine() as engine:
        try:
            deployment = engine.deploy(*targets, require_handlers=False)
            findings = deployment.warnings
        except DeploymentError as error:
            findings = error.findings
    if output_json:
        print(json.dumps([{**asdict(f), "severity": str(f.severity)} for f in findings], indent=2))
    else:
        for finding in findings:
            style = "red" if finding.severity == Severity.ERROR else "yellow"
            console.print(f"[{style}]{escape(str(finding))}[/{style}]", highlight=False,
                          soft_wrap=True)
        if not findings:
            console.print(f"[green]{', '.join(targets)}: no findings[/green]")
    if any(f.severity == Severity.ERROR for f in findings):
        raise typer.Exit(1)
