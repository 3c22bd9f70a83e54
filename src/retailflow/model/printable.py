"""Text from outside (file names, element names, business keys, error messages) made safe to
print: control characters, lone surrogates and bidirectional overrides are shown as escapes, so
they can neither move a terminal's cursor, forge a log line, nor break an XML report."""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)


def printable(text: str) -> str:
    """``text`` with every unsafe character written as a Python escape (``\\n``, ``\\x1b``,
    ``\\u202e``); safe text comes back unchanged."""
    return _UNSAFE.sub(_escape, text)


def _escape(found: re.Match[str]) -> str:
    return found.group().encode("unicode_escape", errors="backslashreplace").decode("ascii")
