"""Hardened XML parsing: process files come from analysts' laptops and CI, so parse them as
untrusted input.

No DTDs, no entities, no network, bounded size and depth: a billion-laughs, XXE or absurdly deep
file is refused with a finding before it can hang the engine or read a local file.
"""

from __future__ import annotations

import codecs
import re
from typing import NoReturn

from lxml import etree

from retailflow.model import DeploymentError, Finding, Severity

MAX_BYTES = 10 * 1024 * 1024
"""Default size limit; Modeler files of hundreds of tasks stay far below it."""
MAX_DEPTH = 200
"""Default element nesting limit."""
_LIBXML_DEPTH = 256  # libxml2's own limit without huge_tree: a higher max_depth cannot pass it

# A DOCTYPE can only appear in the prolog; atomic groups keep the scan linear on hostile input.
_PROLOG_DOCTYPE = re.compile(r"\A\ufeff?(?>\s|<\?.*?\?>|<!--.*?-->)*+<!DOCTYPE", re.DOTALL)

# XML 1.0 appendix F: the first bytes tell the encoding family before any declaration is read.
_WIDE_ENCODINGS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\x00<", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
)


def parse_document(
    content: bytes, *, file: str, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH
) -> etree._ElementTree:
    """Parse one BPMN or DMN file, or raise ``DeploymentError`` saying why it was refused.

    Rules: ``xml-too-large``, ``xml-unsafe`` (any DOCTYPE, DTD or entity declaration),
    ``xml-malformed`` (with line and column) and ``xml-too-deep``.
    """
    if len(content) > max_bytes:
        _refuse(
            "xml-too-large",
            f"the file is {len(content):,} bytes, over the limit of {max_bytes:,}",
            file,
            None,
            "split the diagram into called processes, or raise the limit if it is trusted",
        )
    doctype_line = _doctype_line(content)
    if doctype_line is not None:
        _refuse_unsafe(file, doctype_line)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=False,
    )
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as error:
        _refuse_syntax(error, file, max_depth)
    except (etree.LxmlError, ValueError) as error:
        _refuse(
            "xml-malformed",
            f"the file is not well-formed XML: {error}",
            file,
            None,
            "open and save the file again in Camunda Modeler",
        )
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        _refuse_unsafe(file, 1)
    _check_depth(root, file, max_depth)
    return tree


def _doctype_line(content: bytes) -> int | None:
    """The line of a DOCTYPE in the prolog, or None; decodes only to find the declaration."""
    codec = next((name for mark, name in _WIDE_ENCODINGS if content.startswith(mark)), "latin-1")
    text = content.removeprefix(codecs.BOM_UTF8).decode(codec, errors="replace")
    found = _PROLOG_DOCTYPE.match(text)
    if found is None:
        return None
    return text.count("\n", 0, found.end()) + 1


def _check_depth(root: etree._Element, file: str, max_depth: int) -> None:
    depth = 0
    for event, element in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth > max_depth:
            _refuse(
                "xml-too-deep",
                f"elements are nested more than {max_depth} levels deep",
                file,
                element.sourceline,
                "flatten the nesting; Modeler never writes files this deep",
            )


def _refuse_syntax(error: etree.XMLSyntaxError, file: str, max_depth: int) -> NoReturn:
    last = error.error_log.last_error
    message = last.message if last is not None else str(error.msg)
    line, column = error.position
    if last is not None and last.type_name == "ERR_RESOURCE_LIMIT" and "depth" in message:
        depth = min(max_depth, _LIBXML_DEPTH)
        _refuse(
            "xml-too-deep",
            f"elements are nested more than {depth} levels deep",
            file,
            line,
            "flatten the nesting; Modeler never writes files this deep",
        )
    if last is not None and "amplification" in message:
        _refuse_unsafe(file, line)
    _refuse(
        "xml-malformed",
        f"the file is not well-formed XML: {message} (line {line}, column {column})",
        file,
        line,
        "fix the XML at that position, or open and save the file again in Camunda Modeler",
    )


def _refuse_unsafe(file: str, line: int | None) -> NoReturn:
    _refuse(
        "xml-unsafe",
        "the file declares a DOCTYPE, DTD or entities, which process files never need",
        file,
        line,
        "remove the <!DOCTYPE ...> declaration; Modeler never writes one",
    )


def _refuse(rule: str, message: str, file: str, line: int | None, hint: str) -> NoReturn:
    raise DeploymentError([Finding(Severity.ERROR, rule, message, file=file, line=line, hint=hint)])
