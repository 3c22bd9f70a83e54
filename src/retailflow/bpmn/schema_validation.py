"""Validation against OMG's BPMN 2.0 XSDs, reporting every error at once.

SpiffWorkflow's validator stops at the last error of the log; an analyst fixing a file wants
the whole list, each with its line and element id.
"""

from __future__ import annotations

import copy
import threading
from functools import cache
from importlib import resources

from lxml import etree

from retailflow.bpmn.document import BpmnDocument, DmnDocument
from retailflow.bpmn.namespaces import PREFIXES, bpmn_tag
from retailflow.model import Finding, Severity

_MODELER_QUIRK = etree.XPath(
    ".//bpmn:correlationPropertyRetrievalExpression/bpmn:formalExpression", namespaces=PREFIXES
)
_MESSAGE_PATH = bpmn_tag("messagePath")
_VALIDATING = threading.Lock()  # the compiled schema keeps one error log; share it safely


@cache
def bpmn_schema() -> etree.XMLSchema:
    """The compiled BPMN 2.0 schema (with DI), loaded once: compiling takes a while."""
    schema_dir = resources.files("retailflow.bpmn") / "schema"
    with resources.as_file(schema_dir / "BPMN20.xsd") as path:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        return etree.XMLSchema(etree.parse(str(path), parser))


def validate_schema(document: BpmnDocument | DmnDocument) -> list[Finding]:
    """Every XSD error in a BPMN file as a ``schema-invalid`` finding, in document order.

    DMN files pass through: ``retailflow.decisions`` validates what it evaluates.
    """
    if isinstance(document, DmnDocument):
        return []
    tree = document.tree
    quirks = _MODELER_QUIRK(tree)
    if quirks:
        # Modeler writes <formalExpression> where the schema wants <messagePath>; fix a copy.
        tree = copy.deepcopy(tree)
        for expression in _MODELER_QUIRK(tree):
            expression.tag = _MESSAGE_PATH
    schema = bpmn_schema()
    with _VALIDATING:
        if schema.validate(tree):
            return []
        errors = list(schema.error_log)
    ids_by_line = _ids_by_line(tree)
    prefixes = {prefix: uri for prefix, uri in tree.getroot().nsmap.items() if prefix}
    return [
        Finding(
            Severity.ERROR,
            "schema-invalid",
            error.message,
            file=document.name,
            line=error.line or None,
            element_id=_element_id(tree, error, prefixes) or ids_by_line.get(error.line),
            hint="fix the element as the BPMN 2.0 schema requires, or redraw it in Modeler",
        )
        for error in errors
    ]


def _element_id(
    tree: etree._ElementTree, error: etree._LogEntry, prefixes: dict[str, str]
) -> str | None:
    """The id of the element the error is about (or of its nearest ancestor with one), found
    by the XPath libxml2 reports with it."""
    if not error.path:
        return None
    try:
        found = tree.xpath(error.path, namespaces=prefixes)
    except etree.XPathError:
        return None
    if not isinstance(found, list) or not found or not isinstance(found[0], etree._Element):
        return None
    element = found[0]
    for candidate in (element, *element.iterancestors()):
        if candidate.get("id"):
            return candidate.get("id")
    return None


def _ids_by_line(tree: etree._ElementTree) -> dict[int, str]:
    """The first element id on each line, for errors that come without a path."""
    ids: dict[int, str] = {}
    for element in tree.iter(etree.Element):
        element_id = element.get("id")
        if element_id and element.sourceline is not None:
            ids.setdefault(element.sourceline, element_id)
    return ids
