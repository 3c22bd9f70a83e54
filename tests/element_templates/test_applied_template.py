"""A task as Modeler writes it once an analyst applied a generated template: it validates
clean against the handler and runs, with the inputs the template filled in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retailflow import Engine, HandlerRegistry
from retailflow.element_templates import element_template
from retailflow.validation import validate

shop = HandlerRegistry()
calls: list[dict[str, Any]] = []


@shop.handler("orders.ship")
def ship(order_id: str, carrier: str = "dhl") -> dict[str, str]:
    """Hand the order to the carrier."""
    calls.append({"order_id": order_id, "carrier": carrier})
    return {"tracking_number": f"TRK-{order_id}"}


def applied(template: dict[str, Any]) -> str:
    """The extension elements Modeler writes for a C8 template: every property with a value."""
    inputs, headers, task_type = [], [], ""
    for prop in template["properties"]:
        binding, value = prop["binding"], prop.get("value")
        if binding["type"] == "zeebe:taskDefinition":
            task_type = value
        elif binding["type"] == "zeebe:input" and value is not None:
            inputs.append(f'<zeebe:input source="{value}" target="{binding["name"]}" />')
        elif binding["type"] == "zeebe:taskHeader":
            headers.append(f'<zeebe:header key="{binding["key"]}" value="{value}" />')
    return (
        f'<zeebe:taskDefinition type="{task_type}" />'
        f"<zeebe:ioMapping>{''.join(inputs)}</zeebe:ioMapping>"
        f"<zeebe:taskHeaders>{''.join(headers)}</zeebe:taskHeaders>"
    )


def modeler_file(version: int) -> str:
    template = element_template(shop.get("orders.ship"), "c8")  # type: ignore[arg-type]
    # Modeler writes the root element and the templated task on one line each.
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.26.0" modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.5.0">
  <bpmn:process id="Process_1k2j3h4" name="Ship" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" name="Order paid">
      <bpmn:outgoing>Flow_1zxc4vb</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:serviceTask id="Activity_0x8f7d2" name="Ship order" zeebe:modelerTemplate="{template["id"]}" zeebe:modelerTemplateVersion="{version}">
      <bpmn:extensionElements>{applied(template)}</bpmn:extensionElements>
      <bpmn:incoming>Flow_1zxc4vb</bpmn:incoming>
      <bpmn:outgoing>Flow_0ab12cd</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="Event_0qwe3rt" name="Shipped">
      <bpmn:incoming>Flow_0ab12cd</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1zxc4vb" sourceRef="StartEvent_1" targetRef="Activity_0x8f7d2" />
    <bpmn:sequenceFlow id="Flow_0ab12cd" sourceRef="Activity_0x8f7d2" targetRef="Event_0qwe3rt" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Process_1k2j3h4">
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1">
        <dc:Bounds x="152" y="102" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_0x8f7d2_di" bpmnElement="Activity_0x8f7d2">
        <dc:Bounds x="240" y="80" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Event_0qwe3rt_di" bpmnElement="Event_0qwe3rt">
        <dc:Bounds x="392" y="102" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_1zxc4vb_di" bpmnElement="Flow_1zxc4vb">
        <di:waypoint x="188" y="120" />
        <di:waypoint x="240" y="120" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_0ab12cd_di" bpmnElement="Flow_0ab12cd">
        <di:waypoint x="340" y="120" />
        <di:waypoint x="392" y="120" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""  # noqa: E501


def test_a_task_with_the_current_template_validates_clean_and_runs(tmp_path: Path) -> None:
    version = element_template(shop.get("orders.ship"), "c8")["version"]  # type: ignore[arg-type]
    path = tmp_path / "ship.bpmn"
    path.write_text(modeler_file(version))

    report = validate([path], handlers=shop)
    engine = Engine(handlers=shop)
    engine.deploy(path)
    instance = engine.start("Process_1k2j3h4", variables={"order_id": "SO-7"})
    engine.run()

    assert [d.finding.rule for d in report.diagnostics] == []
    assert calls[-1] == {"order_id": "SO-7", "carrier": "dhl"}
    assert engine.instance(instance.id).variables["tracking_number"] == "TRK-SO-7"


def test_a_task_with_an_older_template_version_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "ship.bpmn"
    path.write_text(modeler_file(1))

    report = validate([path], handlers=shop)

    assert [(d.finding.rule, d.finding.element_id) for d in report.diagnostics] == [
        ("template-outdated", "Activity_0x8f7d2")
    ]
