"""Reading a file into its index: processes, definitions, and what each process depends on."""

from __future__ import annotations

import pytest
from bpmn_diagrams import bpmn_file, dmn_file, linear_process, read, read_bpmn, service_task

from retailflow.bpmn import Dialect, DmnDocument, ProcessInfo
from retailflow.model import DeploymentError

RETAIL = """
  <bpmn:message id="Message_paid" name="payment_received" />
  <bpmn:message id="Message_order" name="order_placed" />
  <bpmn:signal id="Signal_recall" name="product_recall" />
  <bpmn:error id="Error_stock" name="Out of stock" errorCode="OUT_OF_STOCK" />
  <bpmn:escalation id="Escalation_late" name="Late delivery" escalationCode="LATE" />
  <bpmn:process id="order_fulfilment" name="Order fulfilment" isExecutable="true">
    <bpmn:startEvent id="order_placed">
      <bpmn:messageEventDefinition id="med_1" messageRef="Message_order" />
    </bpmn:startEvent>
    <bpmn:startEvent id="recall">
      <bpmn:signalEventDefinition id="sed_1" signalRef="Signal_recall" />
    </bpmn:startEvent>
    <bpmn:startEvent id="nightly">
      <bpmn:timerEventDefinition id="ted_1">
        <bpmn:timeCycle xsi:type="bpmn:tFormalExpression">R/PT24H</bpmn:timeCycle>
      </bpmn:timerEventDefinition>
    </bpmn:startEvent>
    <bpmn:serviceTask id="reserve">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="inventory.reserve" />
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:serviceTask id="reserve_again">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="inventory.reserve" />
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:businessRuleTask id="price">
      <bpmn:extensionElements>
        <zeebe:calledDecision decisionId="discount" resultVariable="d" />
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:subProcess id="shipping_stage">
      <bpmn:startEvent id="shipping_start" />
      <bpmn:callActivity id="ship">
        <bpmn:extensionElements>
          <zeebe:calledElement processId="shipping" />
        </bpmn:extensionElements>
      </bpmn:callActivity>
      <bpmn:callActivity id="dynamic">
        <bpmn:extensionElements>
          <zeebe:calledElement processId="=carrier + &quot;_shipping&quot;" />
        </bpmn:extensionElements>
      </bpmn:callActivity>
      <bpmn:subProcess id="on_cancel" triggeredByEvent="true">
        <bpmn:startEvent id="cancelled">
          <bpmn:messageEventDefinition id="med_2" messageRef="Message_paid" />
        </bpmn:startEvent>
      </bpmn:subProcess>
    </bpmn:subProcess>
    <bpmn:endEvent id="notify">
      <bpmn:extensionElements><zeebe:taskDefinition type="crm.notify" /></bpmn:extensionElements>
      <bpmn:messageEventDefinition id="med_3" messageRef="Message_paid" />
    </bpmn:endEvent>
  </bpmn:process>
  <bpmn:process id="archive" isExecutable="false" />"""


def test_a_camunda8_file_is_indexed_by_process_and_definition() -> None:
    document = read_bpmn(bpmn_file(RETAIL))

    assert document.name == "order.bpmn"
    assert document.dialect is Dialect.CAMUNDA8
    assert [(p.id, p.name, p.executable) for p in document.processes] == [
        ("order_fulfilment", "Order fulfilment", True),
        ("archive", None, False),
    ]
    assert document.messages == {
        "Message_paid": "payment_received",
        "Message_order": "order_placed",
    }
    assert document.signals == {"Signal_recall": "product_recall"}
    assert document.errors == {"Error_stock": ("Out of stock", "OUT_OF_STOCK")}
    assert document.escalations == {"Escalation_late": ("Late delivery", "LATE")}


def test_each_process_lists_what_it_calls_starts_on_and_hands_to_workers() -> None:
    process = read_bpmn(bpmn_file(RETAIL)).process("order_fulfilment")

    assert isinstance(process, ProcessInfo)
    assert process.line == 9
    assert process.called_processes == ("shipping",)
    assert process.called_decisions == ("discount",)
    assert process.message_starts == ("order_placed",)
    assert process.signal_starts == ("product_recall",)
    assert process.timer_starts == ("nightly",)
    assert process.job_types == ("inventory.reserve", "crm.notify")


def test_the_content_hash_is_the_files_sha256() -> None:
    content = bpmn_file(linear_process(service_task()))

    assert read_bpmn(content).content_hash == read_bpmn(content, "copy.bpmn").content_hash
    assert len(read_bpmn(content).content_hash) == 64


def test_camunda7_and_spiff_call_activities_are_indexed_too() -> None:
    camunda7 = read_bpmn(
        bpmn_file(
            linear_process('    <bpmn:callActivity id="task" calledElement="shipping" />'),
            "camunda7",
        )
    )
    spiff = read_bpmn(
        bpmn_file(
            linear_process("""
    <bpmn:businessRuleTask id="task">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>discount</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>"""),
            "spiff",
        )
    )

    assert camunda7.processes[0].called_processes == ("shipping",)
    assert spiff.processes[0].called_decisions == ("discount",)


def test_a_dmn_file_is_indexed_by_decision_id_only() -> None:
    document = read(dmn_file("discount", "shipping_fee"), "pricing.dmn")

    assert isinstance(document, DmnDocument)
    assert document.decisions == {"discount": "Discount", "shipping_fee": "Shipping Fee"}
    assert document.decision_ids == ("discount", "shipping_fee")
    assert document.namespace == "https://www.omg.org/spec/DMN/20191111/MODEL/"


@pytest.mark.parametrize(
    ("content", "name", "line"),
    [
        (dmn_file("discount"), "pricing.bpmn", 2),
        (bpmn_file(linear_process(service_task())), "order.dmn", 2),
        (b"<definitions/>", "order.bpmn", 1),
    ],
)
def test_a_file_with_the_wrong_content_for_its_name_is_refused(
    content: bytes, name: str, line: int
) -> None:
    with pytest.raises(DeploymentError) as raised:
        read(content, name)

    [finding] = raised.value.findings
    assert (finding.rule, finding.file, finding.line) == ("wrong-document", name, line)
