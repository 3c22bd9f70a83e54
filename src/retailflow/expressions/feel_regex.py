"""FEEL's regular-expression functions (``matches``, ``replace``, ``split``, ``extract``) on RE2.

Patterns come from process files, so a pattern such as ``(a+)+$`` must not be able to stall a
worker: Python's ``re`` backtracks exponentially on it. RE2 (``google-re2``) matches in time
linear in the input and bounds the memory a compiled pattern may take; patterns RE2 refuses
(back-references, look-around, huge counted repetitions) make the function return null, as an
invalid pattern does in FEEL. Flags follow XPath: ``s``, ``m``, ``i``, ``x`` and ``q`` (literal).
Results are built piece by piece against the size limits, never first and checked after.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import re2

from retailflow.expressions.feel_budget import check_items, check_text

_FLAGS = frozenset("smixq")
_REPLACEMENT_PART = re.compile(r"\$(\d+)|\\(.)|([^$\\]+)|(.)", re.DOTALL)
_CACHED_PATTERN = 1_000
"""Patterns up to this length are compiled once (those written in a file); longer ones (built
from variables) are compiled per call rather than kept."""


def _compiled(pattern: str, flags: str) -> Any:
    """The RE2 program for a pattern and XPath flags; ValueError when RE2 refuses it."""
    if len(pattern) <= _CACHED_PATTERN:
        return _cached_program(pattern, flags)
    return _program(pattern, flags)


@functools.lru_cache(maxsize=256)
def _cached_program(pattern: str, flags: str) -> Any:
    return _program(pattern, flags)


def _program(pattern: str, flags: str) -> Any:
    if not set(flags) <= _FLAGS:
        raise ValueError(f"unknown regular expression flags {flags!r}")
    if "q" in flags:
        pattern = re2.escape(pattern)
    elif "x" in flags:
        pattern = _without_whitespace(pattern)
    inline = "".join(flag for flag in "smi" if flag in flags)
    options = re2.Options()
    options.max_mem = 8 << 20
    options.log_errors = False
    try:
        return re2.compile(f"(?{inline}){pattern}" if inline else pattern, options)
    except re2.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None


def _without_whitespace(pattern: str) -> str:
    """XPath's ``x`` flag: whitespace is dropped, except inside a character class."""
    kept: list[str] = []
    in_class = escaped = False
    for char in pattern:
        if escaped:
            kept.append(char)
            escaped = False
        elif char == "\\":
            kept.append(char)
            escaped = True
        elif char == "[":
            in_class = True
            kept.append(char)
        elif char == "]":
            in_class = False
            kept.append(char)
        elif in_class or not char.isspace():
            kept.append(char)
    return "".join(kept)


def _texts(*values: Any) -> bool:
    return all(type(value) is str for value in values)


def matches(text: Any, pattern: Any, flags: Any = "") -> bool | None:
    """Whether ``pattern`` matches somewhere in ``text`` (anchor it with ``^...$`` for all)."""
    if not _texts(text, pattern, flags):
        return None
    return _compiled(pattern, flags).search(text) is not None


def replace(text: Any, pattern: Any, replacement: Any, flags: Any = "") -> str | None:
    """Every match replaced; ``$1`` in the replacement is the first group (empty if unset)."""
    if not _texts(text, pattern, replacement, flags):
        return None
    program = _compiled(pattern, flags)
    template = _REPLACEMENT_PART.findall(replacement)
    pieces: list[str] = []
    length = 0
    position = 0
    for match in program.finditer(text):
        pieces.append(text[position : match.start()])
        for group, escaped, literal, stray in template:
            if group:
                number = int(group)
                if number > program.groups:
                    raise ValueError(f"no group ${number} in {pattern!r}")
                piece = match.group(number) or ""
            else:
                piece = escaped or literal or stray
            pieces.append(piece)
            length += len(piece)
        length += match.start() - position
        check_text(length)
        position = match.end()
    pieces.append(text[position:])
    check_text(length + len(text) - position)
    return "".join(pieces)


def split(text: Any, delimiter: Any) -> list[str] | None:
    """``text`` cut at every match of ``delimiter`` (empty parts kept)."""
    if not _texts(text, delimiter):
        return None
    parts: list[str] = []
    position = 0
    for match in _compiled(delimiter, "").finditer(text):
        if match.end() == match.start() and match.start() in (0, len(text)):
            continue  # an empty match at either end cuts nothing off
        parts.append(text[position : match.start()])
        check_items(len(parts))
        position = match.end()
    parts.append(text[position:])
    return parts


def extract(text: Any, pattern: Any) -> list[str] | None:
    """Every match of ``pattern`` in ``text``, in order."""
    if not _texts(text, pattern):
        return None
    found: list[str] = []
    for match in _compiled(pattern, "").finditer(text):
        found.append(match.group(0))
        check_items(len(found))
    return found
