"""Columns for findings: lxml knows an element's line but not its column, and editors, GitHub
annotations and SARIF viewers all point at a column."""

from __future__ import annotations

import re
from functools import lru_cache


class SourceColumns:
    """Finds the column of an element's start tag in the source text, by its id.

    The texts are the bytes that were validated, decoded once per file on first use.
    """

    def __init__(self, contents: dict[str, bytes]) -> None:
        self._contents = contents
        self._lines: dict[str, list[str]] = {}

    def column(self, file: str | None, line: int | None, element_id: str | None) -> int | None:
        """1-based column of the ``<`` that opens the element with ``element_id`` on ``line``;
        the line's first non-blank character when the id is not on it; None without a line."""
        if file is None or line is None:
            return None
        lines = self._source_lines(file)
        if lines is None or not 1 <= line <= len(lines):
            return None
        text = lines[line - 1]
        if element_id:
            found = _id_attribute(element_id).search(text)
            if found is not None:
                return text.rfind("<", 0, found.start()) + 1 or 1
        return len(text) - len(text.lstrip()) + 1

    def _source_lines(self, file: str) -> list[str] | None:
        lines = self._lines.get(file)
        if lines is None:
            content = self._contents.get(file)
            if content is None:
                return None
            lines = self._lines[file] = content.decode("utf-8", errors="replace").splitlines()
        return lines


@lru_cache(maxsize=4096)
def _id_attribute(element_id: str) -> re.Pattern[str]:
    return re.compile(rf"""\bid\s*=\s*["']{re.escape(element_id)}["']""")
