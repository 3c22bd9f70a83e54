"""``retailflow validate``: lint process files for CI, pre-commit and people.

Exit codes: 0 clean (nothing at or above ``--fail-on``), 1 findings at or above it, 2 a usage,
configuration or internal error (the message says which).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from retailflow.cli.output import console
from retailflow.handlers import RegistryImportError, import_registry
from retailflow.model import Severity
from retailflow.retail import shipped_processes
from retailflow.validation import (
    RULES,
    ConfigError,
    ValidateConfig,
    find_pyproject,
    load_config,
    parse_level,
)
from retailflow.validation import validate as run_validation
from retailflow.validation.reporters import MACHINE_FORMATS
from retailflow.validation.reporters.text import print_report

logger = logging.getLogger(__name__)
errors = Console(stderr=True)
"""Where configuration and internal errors go, so `--format sarif > out.sarif` stays clean."""


class OutputFormat(StrEnum):
    """What ``--format`` accepts."""

    TEXT = "text"
    JSON = "json"
    JUNIT = "junit"
    GITHUB = "github"
    SARIF = "sarif"


class FailOn(StrEnum):
    """What ``--fail-on`` accepts."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


def validate(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files, directories or globs (default: the configured paths, else processes/).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format", "-f", help="Output: text for people; json, junit, github or sarif for CI."
        ),
    ] = OutputFormat.TEXT,
    output_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            help="Exit 1 when a finding is at least this severe (default: error, or the "
            "configured fail-on).",
            show_default=False,
        ),
    ] = None,
    handlers: Annotated[
        str | None,
        typer.Option(
            help="The application's HandlerRegistry as module:attribute; turns on the "
            "diagram-against-code rules.",
            show_default=False,
        ),
    ] = None,
    rule: Annotated[
        list[str] | None,
        typer.Option(
            "--rule",
            help="Override a rule's severity: ID=error|warning|info|off (repeatable).",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="The pyproject.toml to read (default: the nearest one above the current "
            "directory).",
            show_default=False,
        ),
    ] = None,
    list_rules: Annotated[
        bool,
        typer.Option("--list-rules", help="List every rule with its default severity and exit."),
    ] = False,
) -> None:
    """Check process and decision files: schema, modelling (bpmnlint's rules), diagram, what
    would fail at run time and, with --handlers, the diagram against the code."""
    if list_rules:
        _print_rules()
        return
    try:
        settings = _settings(config, fail_on, handlers, rule)
        registry = (
            import_registry(settings.handlers, [Path.cwd(), settings.root])
            if settings.handlers
            else None
        )
    except (ConfigError, RegistryImportError) as error:
        _print_error(str(error))
        raise typer.Exit(2) from error
    try:
        report = run_validation(paths or _default_paths(settings), settings, registry)
    except Exception as error:  # a bug in a rule must not look like a clean file
        logger.exception("retailflow validate failed")
        _print_error(f"internal error: {type(error).__name__}: {error}")
        raise typer.Exit(2) from error
    chosen = OutputFormat.JSON if output_json else output_format
    if chosen is OutputFormat.TEXT:
        print_report(report, console)
    else:
        sys.stdout.write(MACHINE_FORMATS[chosen](report) + "\n")
    if report.fails(settings.fail_on):
        raise typer.Exit(1)


def _default_paths(settings: ValidateConfig) -> list[str]:
    """The configured paths; with nothing configured and no ``processes/`` here, the files
    shipped with retailflow (so a fresh install can be tried from any folder), saying so on
    stderr."""
    configured = settings.resolved_paths()
    if settings.paths != ValidateConfig().paths or Path(configured[0]).exists():
        return configured
    shipped = shipped_processes()
    errors.print(
        f"No processes/ here and none configured: checking the files shipped with "
        f"retailflow in {shipped}.",
        soft_wrap=True,
        highlight=False,
    )
    return [str(shipped)]


def _settings(
    config: Path | None, fail_on: FailOn | None, handlers: str | None, overrides: list[str] | None
) -> ValidateConfig:
    """The configuration file's settings with the command line's on top."""
    if config is not None and not config.is_file():
        raise typer.BadParameter(f"no file at {config}", param_hint="--config")
    settings = load_config(config or find_pyproject(Path.cwd()))
    rules = dict(settings.rules)
    for override in overrides or []:
        rule_id, _, level = override.partition("=")
        if rule_id not in RULES or not level:
            raise typer.BadParameter(
                f"{override!r}: write ID=LEVEL with a rule id from --list-rules",
                param_hint="--rule",
            )
        rules[rule_id] = parse_level(level, where=f"--rule {override}")
    return dataclasses.replace(
        settings,
        rules=rules,
        fail_on=Severity(fail_on) if fail_on is not None else settings.fail_on,
        handlers=handlers or settings.handlers,
    )


def _print_error(message: str) -> None:
    errors.print(f"[red]{escape(message)}[/red]", soft_wrap=True, highlight=False)


def _print_rules() -> None:
    table = Table(title="retailflow validate rules")
    for column in ("rule", "default", "category", "what it reports"):
        table.add_column(column)
    for entry in RULES.values():
        table.add_row(
            entry.id,
            str(entry.severity or "off"),
            str(entry.category),
            entry.summary + (" (bpmnlint)" if entry.bpmnlint else ""),
        )
    console.print(table)
