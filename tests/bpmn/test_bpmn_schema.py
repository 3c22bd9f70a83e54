"""XSD validation: every schema error at once, each with its line and element id."""

from __future__ import annotations

from bpmn_diagrams import bpmn_file, dmn_file, linear_process, read, read_bpmn, service_task
from lxml import etree

from retailflow.bpmn import validate_schema
from retailflow.bpmn.namespaces import BPMN

MODELER_FILE = """  <bpmn:process id="order_fulfilment" name="Order fulfilment" isExecutable="true">
    <bpmn:startEvent id="order_placed" name="Order placed">
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:serviceTask id="reserve_stock" name="Reserve stock">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="inventory.reserve" retries="5" />
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="order_placed" targetRef="reserve_stock" />
    <bpmn:endEvent id="shipped" name="Shipped">
      <bpmn:incoming>Flow_2</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="reserve_stock" targetRef="shipped">
      <bpmn:conditionExpression
          xsi:type="bpmn:tFormalExpression">=reserved</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="order_fulfilment">
      <bpmndi:BPMNShape id="order_placed_di" bpmnElement="order_placed">
        <dc:Bounds x="179" y="99" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="reserve_stock_di" bpmnElement="reserve_stock">
        <dc:Bounds x="270" y="77" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="shipped_di" bpmnElement="shipped">
        <dc:Bounds x="432" y="99" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_1_di" bpmnElement="Flow_1">
        <di:waypoint x="215" y="117" />
        <di:waypoint x="270" y="117" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_2_di" bpmnElement="Flow_2">
        <di:waypoint x="370" y="117" />
        <di:waypoint x="432" y="117" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>"""

CORRELATION = """  <bpmn:message id="Message_paid" name="payment_received" />
  <bpmn:correlationProperty id="order_id" name="Order id">
    <bpmn:correlationPropertyRetrievalExpression messageRef="Message_paid">
      <bpmn:formalExpression>order_id</bpmn:formalExpression>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>
"""


def test_a_modeler_file_with_diagram_interchange_is_valid() -> None:
    assert validate_schema(read_bpmn(bpmn_file(MODELER_FILE))) == []


def test_every_schema_error_is_reported_with_line_and_element_id() -> None:
    broken = (
        MODELER_FILE.replace(
            '<bpmn:sequenceFlow id="Flow_1" sourceRef="order_placed" ',
            '<bpmn:sequenceFlow id="Flow_1" ',
        )
        .replace(
            '<bpmn:endEvent id="shipped" name="Shipped">',
            '<bpmn:endEvent id="shipped" name="Shipped" parallelMultiple="maybe">',
        )
        .replace('<dc:Bounds x="432"', '<dc:Bounds x="far right"')
    )

    findings = validate_schema(read_bpmn(bpmn_file(broken), "broken.bpmn"))

    assert [(f.rule, f.line, f.element_id) for f in findings] == [
        ("schema-invalid", 14, "Flow_1"),
        ("schema-invalid", 15, "shipped"),
        ("schema-invalid", 32, "shipped_di"),
    ]
    assert all(f.file == "broken.bpmn" and f.hint for f in findings)
    assert "sourceRef" in findings[0].message


def test_modelers_correlation_expression_quirk_is_accepted_without_touching_the_file() -> None:
    document = read_bpmn(bpmn_file(CORRELATION + linear_process(service_task())))

    assert validate_schema(document) == []
    assert document.root.find(f".//{{{BPMN}}}formalExpression") is not None


def test_validating_twice_gives_the_same_findings() -> None:
    document = read_bpmn(bpmn_file('  <bpmn:process id="p" isExecutable="yes" />'))

    first = validate_schema(document)

    assert first == validate_schema(document)
    assert [f.element_id for f in first] == ["p"]
    assert etree.QName(document.root).localname == "definitions"


def test_decision_files_are_left_to_the_decision_engine() -> None:
    assert validate_schema(read(dmn_file("discount"), "pricing.dmn")) == []
