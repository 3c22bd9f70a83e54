"""Loading process and decision files: hardened parsing, dialect-neutral extension reading,
XSD validation and static checks. Nothing here imports SpiffWorkflow."""

from __future__ import annotations

from retailflow.bpmn.checks import ExpressionChecker, ScriptChecker, check_documents, python_syntax
from retailflow.bpmn.document import (
    BpmnDocument,
    DmnDocument,
    ProcessInfo,
    read_document,
)
from retailflow.bpmn.extensions import (
    Dialect,
    ElementConfig,
    IoMapping,
    document_dialect,
    expression_language,
    read_element_config,
    read_message_correlation,
)
from retailflow.bpmn.schema_validation import validate_schema
from retailflow.bpmn.sources import SourceFile, load_sources, read_sources
from retailflow.bpmn.xml import MAX_BYTES, MAX_DEPTH, parse_document

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "BpmnDocument",
    "Dialect",
    "DmnDocument",
    "ElementConfig",
    "ExpressionChecker",
    "IoMapping",
    "ProcessInfo",
    "ScriptChecker",
    "SourceFile",
    "check_documents",
    "document_dialect",
    "expression_language",
    "load_sources",
    "parse_document",
    "python_syntax",
    "read_document",
    "read_element_config",
    "read_message_correlation",
    "read_sources",
    "validate_schema",
]
