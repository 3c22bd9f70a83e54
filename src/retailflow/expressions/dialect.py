"""Which expression language a piece of text is written in, read from its own prefix.

Camunda Modeler marks the language in the text itself: Camunda 8 writes FEEL as ``=...``,
Camunda 7 writes JUEL as ``${...}`` (or ``#{...}``). Anything else is the engine's default,
Python for SpiffWorkflow-style files.
"""

from __future__ import annotations

from enum import StrEnum


class Dialect(StrEnum):
    """An expression language retailflow evaluates."""

    FEEL = "feel"
    JUEL = "juel"
    PYTHON = "python"


def detect_dialect(text: str, default: Dialect) -> Dialect:
    """``=...`` is FEEL, ``${...}``/``#{...}`` is JUEL, anything else is ``default``."""
    body = text.lstrip()
    if body.startswith("="):
        return Dialect.FEEL
    if body.startswith(("${", "#{")):
        return Dialect.JUEL
    return default
