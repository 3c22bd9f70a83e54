"""``retailflow templates``: write Camunda element templates for the application's handlers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retailflow.cli.output import console
from retailflow.element_templates import Target, write_templates
from retailflow.handlers import RegistryImportError, import_registry


def templates(
    handlers: Annotated[
        str,
        typer.Option(
            "--handlers",
            help="Where the handlers are: module:attribute, a HandlerRegistry or a "
            "function returning one (e.g. retailflow.retail:registry).",
        ),
    ],
    target: Annotated[
        Target,
        typer.Option(
            "--target",
            help="c8: Camunda 8 templates (zeebe:taskDefinition); c7: Camunda 7 "
            "external-task templates (camunda:topic).",
        ),
    ] = "c8",
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="Folder to write into (created if missing); "
            ".camunda/element-templates beside the .bpmn files is where "
            "Modeler finds them.",
        ),
    ] = Path("."),
) -> None:
    """Write one element template per handler (`<id>.<target>.json`): the job type fixed, an
    input per parameter or pydantic field, result mappings for typed outputs, and a version
    that changes whenever the handler's signature does."""
    try:
        registry = import_registry(handlers, [Path.cwd()])
    except RegistryImportError as error:
        raise typer.BadParameter(str(error), param_hint="--handlers") from error
    written = write_templates(registry, target, output)
    console.print(f"wrote {len(written)} {target} element templates to {output}")
