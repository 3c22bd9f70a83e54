"""Columns for findings: lxml knows an element's line but not its column, and editors, GitHub
annotations and SARIF viewers all point at a column."""

from __future__ import annotations

import re

_LOOK_BACK = 20
"""How many lines up a start tag's beginning is searched for; Modeler writes one-line tags."""


class SourceColumns:
    """Finds the column of an element's start tag in the source text, by its id.

    The texts are the bytes that were validated, decoded once per file on first use.
    """

    def __init__(self, contents: dict[str, bytes]) -> None:
        self._contents = contents
        self._lines: dict[str, list[str]] = {}
        self._ids: dict[str, dict[str, list[tuple[int, int]]]] = {}

    def locate(
        self, file: str | None, line: int | None, element_id: str | None
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
            # A line holding a "<" of its own starts a tag: the finding is about that one (a
            # condition inside a flow), so only a continuation line sends the search upwards.
            stop = line - 1 if "<" in text else max(line - _LOOK_BACK, 0)
            places = [
                place
                for place in self._id_places(file, lines).get(element_id, ())
                if stop < place[0] <= line
            ]
            if places:
                number = max(place[0] for place in places)
                return _opening(lines, number, min(c for n, c in places if n == number))
        return line, len(text) - len(text.lstrip()) + 1

    def _id_places(self, file: str, lines: list[str]) -> dict[str, list[tuple[int, int]]]:
        """Where each ``id="..."`` attribute stands, ``(line, column index)``, found in one pass
        over the file: searching the text once per finding was quadratic on one-line files."""
        places = self._ids.get(file)
        if places is None:
            places = self._ids[file] = {}
            for number, text in enumerate(lines, start=1):
                for found in _ID_ATTRIBUTE.finditer(text):
                    places.setdefault(found.group(1), []).append((number, found.start()))
        return places

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


_ID_ATTRIBUTE = re.compile(r"""\bid\s*=\s*["']([^"']*)["']""")
