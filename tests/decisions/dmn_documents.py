"""DMN files written the way Camunda Modeler writes them, for the decision tests."""

from __future__ import annotations

from typing import Any

from lxml import etree

DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"
DMN11 = "http://www.omg.org/spec/DMN/20151101/dmn.xsd"


def parse(xml: str) -> Any:
    """Parse as the hardened loader does: no entities, no network."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(xml.encode("utf-8"), parser=parser)


def modeler_file(*decisions: str, namespace: str = DMN13) -> str:
    """A Camunda Modeler 5 (Camunda 8) file, DMNDI included, around the given decisions."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="{namespace}" xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/"
    xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/"
    xmlns:modeler="http://camunda.org/schema/modeler/1.0"
    xmlns:camunda="http://camunda.org/schema/1.0/dmn"
    id="Definitions_retail" name="Retail decisions" namespace="http://camunda.org/schema/1.0/dmn"
    exporter="Camunda Modeler" exporterVersion="5.20.0"
    modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.4.0">
{"".join(decisions)}
  <dmndi:DMNDI>
    <dmndi:DMNDiagram id="DMNDiagram_1">
      <dmndi:DMNShape id="DMNShape_1" dmnElementRef="discount">
        <dc:Bounds height="80" width="180" x="160" y="100" />
      </dmndi:DMNShape>
    </dmndi:DMNDiagram>
  </dmndi:DMNDI>
</definitions>
"""


def table(
    decision_id: str,
    inputs: list[tuple[str, str]],
    outputs: list[tuple[str, str]],
    rules: list[tuple[list[str], list[str]]],
    *,
    hit_policy: str | None = None,
    aggregation: str | None = None,
    name: str | None = None,
    requires: tuple[str, ...] = (),
    output_values: dict[str, str] | None = None,
) -> str:
    """A decision table: inputs as (label, expression), outputs as (name, typeRef), rules as
    (input entries, output entries); entries are written as FEEL text."""
    policy = f' hitPolicy="{hit_policy}"' if hit_policy else ""
    aggregate = f' aggregation="{aggregation}"' if aggregation else ""
    requirements = "".join(
        f'<informationRequirement id="Req_{decision_id}_{required}">'
        f'<requiredDecision href="#{required}" /></informationRequirement>'
        for required in requires
    )
    input_xml = "".join(
        f'<input id="Input_{decision_id}_{index}" label="{label}">'
        f'<inputExpression id="InputExpression_{decision_id}_{index}" typeRef="string">'
        f"<text>{_escape(expression)}</text></inputExpression></input>"
        for index, (label, expression) in enumerate(inputs)
    )
    values = output_values or {}
    output_xml = "".join(
        f'<output id="Output_{decision_id}_{index}" label="{output}" name="{output}" '
        f'typeRef="{type_ref}">'
        + (
            f'<outputValues id="UnaryTests_{decision_id}_{index}">'
            f"<text>{_escape(values[output])}</text></outputValues>"
            if output in values
            else ""
        )
        + "</output>"
        for index, (output, type_ref) in enumerate(outputs)
    )
    rule_xml = "".join(
        f'<rule id="{decision_id}_Rule_{number}">'
        f"<description>rule {number}</description>"
        + "".join(
            f'<inputEntry id="{decision_id}_In_{number}_{index}">'
            f"<text>{_escape(entry)}</text></inputEntry>"
            for index, entry in enumerate(input_entries)
        )
        + "".join(
            f'<outputEntry id="{decision_id}_Out_{number}_{index}">'
            f"<text>{_escape(entry)}</text></outputEntry>"
            for index, entry in enumerate(output_entries)
        )
        + "</rule>"
        for number, (input_entries, output_entries) in enumerate(rules, 1)
    )
    label = f' name="{name}"' if name else ""
    return (
        f'\n  <decision id="{decision_id}"{label}>{requirements}'
        f'<decisionTable id="Table_{decision_id}"{policy}{aggregate}>'
        f"{input_xml}{output_xml}{rule_xml}</decisionTable></decision>"
    )


def literal(
    decision_id: str,
    expression: str,
    variable: str,
    type_ref: str = "number",
    requires: tuple[str, ...] = (),
) -> str:
    """A literal-expression decision."""
    requirements = "".join(
        f'<informationRequirement id="Req_{decision_id}_{required}">'
        f'<requiredDecision href="#{required}" /></informationRequirement>'
        for required in requires
    )
    return (
        f'\n  <decision id="{decision_id}" name="{decision_id}">{requirements}'
        f'<variable id="Var_{decision_id}" name="{variable}" typeRef="{type_ref}" />'
        f'<literalExpression id="Literal_{decision_id}">'
        f"<text>{_escape(expression)}</text></literalExpression></decision>"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
