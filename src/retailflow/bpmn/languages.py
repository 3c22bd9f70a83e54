"""The expression language a file declares for a condition, and the text that says it.

BPMN lets a file name the language of an expression: ``language`` on the expression element
(Camunda 7 Modeler writes it for a "Script" condition, other tools for every one), else
``expressionLanguage`` on the definitions. Modeler marks the language in the text instead
(``=`` FEEL, ``${}`` JUEL). ``written_in`` reads all three the same way for the checks and the
engine, and ``as_marked`` rewrites a text so its prefix says its language, which is how the
rest of retailflow tells languages apart.
"""

from __future__ import annotations

import re
from typing import Literal

from lxml import etree

from retailflow.bpmn.extensions import expression_language

Language = Literal["feel", "juel", "python"]

_FEEL_URI = re.compile(r"https?://www\.omg\.org/spec/(?:DMN/\d{8}/FEEL|FEEL/\d{8})/?")
_NAMES: dict[str, Language] = {
    "feel": "feel",  # Camunda 7's FEEL script engine
    "feel-scala": "feel",
    "juel": "juel",  # Camunda 7's JUEL script engine
    "python": "python",
    "python3": "python",
    "https://www.python.org/": "python",
    "http://www.python.org/": "python",
}
"""Declared names retailflow evaluates; FEEL also by any OMG FEEL URI (DMN 1.1 to 1.5:
``http://www.omg.org/spec/FEEL/20140401``, ``https://www.omg.org/spec/DMN/20191111/FEEL/``)."""


class UnsupportedLanguage(ValueError):
    """An expression declared in a language retailflow cannot evaluate (XPath, JavaScript,
    Groovy ...); ``language`` is the name or URI as written."""

    def __init__(self, language: str) -> None:
        super().__init__(language)
        self.language = language


def declared_language(name: str) -> Language:
    """The language a ``language`` or ``expressionLanguage`` value names, or
    ``UnsupportedLanguage``."""
    cleaned = name.strip()
    found = _NAMES.get(cleaned.lower())
    if found is not None:
        return found
    if _FEEL_URI.fullmatch(cleaned):
        return "feel"
    raise UnsupportedLanguage(cleaned)


def written_in(expression: etree._Element) -> Language | None:
    """The language of an expression element: its own ``language``, else the prefix Modeler
    writes, else the definitions' ``expressionLanguage``; None when nothing declares one (the
    file's default applies). Raises ``UnsupportedLanguage``."""
    own = expression.get("language")
    if own is not None and own.strip():
        return declared_language(own)
    marked = expression_language(expression.text or "")
    if marked is not None:
        return marked
    default = expression.getroottree().getroot().get("expressionLanguage")
    if default is not None and default.strip():
        return declared_language(default)
    return None


def as_marked(text: str, language: Language | None) -> str:
    """``text`` with the prefix that says its language: ``=`` for FEEL, ``${...}`` for JUEL.
    Python (and an undeclared language) stays as written."""
    body = text.strip()
    if language == "feel" and not body.startswith("="):
        return f"={body}"
    if language == "juel" and expression_language(body) != "juel":
        return f"${{{body}}}"
    return text
