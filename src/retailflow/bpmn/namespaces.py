"""The XML namespaces of BPMN and DMN files, and of the Modeler dialects retailflow reads."""

from __future__ import annotations

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

ZEEBE = "http://camunda.org/schema/zeebe/1.0"
"""Camunda 8 extensions."""
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
"""Camunda 7 extensions."""
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
"""SpiffWorkflow's own extensions (written with the ``spiffworkflow:`` prefix)."""
MODELER = "http://camunda.org/schema/modeler/1.0"
"""Camunda Modeler's bookkeeping, e.g. ``modeler:executionPlatform``."""

DMN11 = "http://www.omg.org/spec/DMN/20151101/dmn.xsd"
DMN12 = "http://www.omg.org/spec/DMN/20180521/MODEL/"
DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"
DMN14 = "https://www.omg.org/spec/DMN/20211108/MODEL/"
DMN15 = "https://www.omg.org/spec/DMN/20230324/MODEL/"
DMN_MODELS = frozenset({DMN11, DMN12, DMN13, DMN14, DMN15})
"""Every DMN model namespace a decision file may use; retailflow only indexes decision ids."""

PREFIXES = {
    "bpmn": BPMN,
    "bpmndi": BPMNDI,
    "dc": DC,
    "di": DI,
    "xsi": XSI,
    "zeebe": ZEEBE,
    "camunda": CAMUNDA,
    "spiff": SPIFF,
    "modeler": MODELER,
}
"""Prefixes for XPath expressions; they need not match the prefixes a file declares."""


def bpmn_tag(local_name: str) -> str:
    """The Clark-notation tag (``{uri}name``) of a BPMN model element."""
    return f"{{{BPMN}}}{local_name}"
