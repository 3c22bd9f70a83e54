"""Columns for findings: lxml knows an element's line but not its column, and editors, GitHub
annotations and SARIF viewers all point at a column."""

from __future__ import annotations

import re
from functools import lru_cache

_LOOK_BACK = 20
"""How many lines up a start tag's beginning is searched for; Modeler writes one-line tags."""


class SourceColumns:
    """Finds the column of an element's start tag in the source text, by its id.

    The texts are the bytes that were validated, decoded once per file on first use.
    """

    def __init__(self, contents: dict[str, bytes]) -> None:
        self._contents = contents
        self._lines: dict[str, list[str]] = {}

    def locate(self, file: str | None, line: int | None, element_id: str | None
               ) -> tuple[int | None, int | None]:
        """``(line, column)`` of the ``<`` that opens the element with ``element_id``.

        lxml gives the line where a start tag *ends*; a tag written over several lines is
        found by looking back for its id, so editors land on the tag's first line. Without
        the id nearby: the given line and its first non-blank column. Without a line: None.
        """
        if file is None or line is None:
            return line, None
        lines = self._source_lines(file)
        if lines is None or not 1 <= line <= len(lines):
            return line, None
        text = lines[line - 1]
        if element_id:
            pattern = _id_attribute(element_id)
            # A line holding a "<" of its own starts a tag: the finding is about that one (a
            # condition inside a flow), so only a continuation line sends the search upwards.
            stop = line - 1 if "<" in text else max(line - _LOOK_BACK, 0)
            for number in range(line, stop, -1):
                found = pattern.search(lines[number - 1])
                if found is not None:
                    return _opening(lines, number, found.start())
        return line, len(text) - len(text.lstrip()) + 1

    def _source_lines(self, file: str) -> list[str] | None:
        lines = self._lines.get(file)
        if lines is None:
            content = self._contents.get(file)
            if content is None:
                return None
            lines = self._lines[file] = content.decode("utf-8", errors="replace").splitlines()
        return lines


def _opening(lines: list[str], number: int, before: int) -> tuple[int, int]:
    """The ``<`` before position ``before`` of line ``number``, on that line or above."""
    for current in range(number, max(number - _LOOK_BACK, 0), -1):
        text = lines[current - 1]
        position = text.rfind("<", 0, before if current == number else len(text))
        if position >= 0:
            return current, position + 1
    return number, 1


@lru_cache(maxsize=4096)
def _id_attribute(element_id: str) -> re.Pattern[str]:
    return re.compile(rf"""\bid\s*=\s*["']{re.escape(element_id)}["']""")
