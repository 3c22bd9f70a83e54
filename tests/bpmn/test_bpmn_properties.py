"""Property tests: no input, however broken, escapes as anything but a retailflow error."""

from __future__ import annotations

import contextlib
import copy

from bpmn_diagrams import bpmn_file, dmn_file, linear_process
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from retailflow.bpmn import (
    BpmnDocument,
    SourceFile,
    check_documents,
    parse_document,
    read_document,
    validate_schema,
)
from retailflow.model import ExpressionError, RetailflowError

CAMUNDA8 = bpmn_file(
    """  <bpmn:message id="paid" name="payment_received">
    <bpmn:extensionElements>
      <zeebe:subscription correlationKey="=order.id" />
    </bpmn:extensionElements>
  </bpmn:message>
  <bpmn:error id="no_stock" name="No stock" errorCode="NO_STOCK" />
"""
    + linear_process(
        """    <bpmn:serviceTask id="task" name="Reserve stock">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="inventory.reserve" retries="3" />
        <zeebe:ioMapping>
          <zeebe:input source="=order.items" target="items" />
          <zeebe:output source="=reservation" target="reservation" />
        </zeebe:ioMapping>
        <zeebe:taskHeaders><zeebe:header key="k" value="v" /></zeebe:taskHeaders>
      </bpmn:extensionElements>
    </bpmn:serviceTask>""",
        extra="""
    <bpmn:boundaryEvent id="late" attachedToRef="task">
      <bpmn:timerEventDefinition id="ted">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:boundaryEvent id="out_of_stock" attachedToRef="task">
      <bpmn:errorEventDefinition id="eed" errorRef="no_stock" />
    </bpmn:boundaryEvent>
    <bpmn:exclusiveGateway id="gateway" default="to_end" />
    <bpmn:sequenceFlow id="to_end" sourceRef="gateway" targetRef="end">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=ok</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:callActivity id="call">
      <bpmn:extensionElements><zeebe:calledElement processId="shipping" /></bpmn:extensionElements>
    </bpmn:callActivity>
    <bpmn:businessRuleTask id="rules">
      <bpmn:extensionElements>
        <zeebe:calledDecision decisionId="discount" resultVariable="d" />
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:intermediateCatchEvent id="wait_paid">
      <bpmn:messageEventDefinition id="med" messageRef="paid" />
    </bpmn:intermediateCatchEvent>""",
    )
)

CAMUNDA7 = bpmn_file(
    linear_process(
        """    <bpmn:serviceTask id="task" camunda:type="external"
                      camunda:topic="crm.notify" camunda:asyncBefore="true">
      <bpmn:extensionElements>
        <camunda:inputOutput>
          <camunda:inputParameter name="customer">${order.customer}</camunda:inputParameter>
          <camunda:inputParameter name="channels">
            <camunda:list><camunda:value>email</camunda:value></camunda:list>
          </camunda:inputParameter>
          <camunda:inputParameter name="labels">
            <camunda:map><camunda:entry key="k">${v}</camunda:entry></camunda:map>
          </camunda:inputParameter>
        </camunda:inputOutput>
        <camunda:failedJobRetryTimeCycle>R3/PT5M</camunda:failedJobRetryTimeCycle>
      </bpmn:extensionElements>
    </bpmn:serviceTask>""",
        extra="""
    <bpmn:callActivity id="call" calledElement="shipping">
      <bpmn:extensionElements>
        <camunda:in variables="all" />
        <camunda:out source="a" target="b" />
      </bpmn:extensionElements>
    </bpmn:callActivity>
    <bpmn:businessRuleTask id="rules" camunda:decisionRef="discount"
                           camunda:resultVariable="d" />
    <bpmn:userTask id="approve" camunda:assignee="${manager}" camunda:candidateGroups="a,b" />
    <bpmn:scriptTask id="script" scriptFormat="python"><bpmn:script>x = 1</bpmn:script>
    </bpmn:scriptTask>""",
    ),
    "camunda7",
)

SPIFF = bpmn_file(
    linear_process("""    <bpmn:serviceTask id="task">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="inventory.reserve" resultVariable="r">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="sku" type="str" value="order['sku']" />
          </spiffworkflow:parameters>
          <spiffworkflow:retry retries="2" />
        </spiffworkflow:serviceTaskOperator>
        <spiffworkflow:preScript>x = 1</spiffworkflow:preScript>
      </bpmn:extensionElements>
    </bpmn:serviceTask>"""),
    "spiff",
)

PLAIN = bpmn_file(linear_process('    <bpmn:serviceTask id="task" />'), "plain")
SEEDS = [CAMUNDA8, CAMUNDA7, SPIFF, PLAIN]
XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)


def strict_checker(text: str, language: str, element_id: str | None) -> None:
    """An expression engine that refuses everything, so every refusal path is exercised."""
    raise ExpressionError("refused", expression=text, element_id=element_id)


def strict_script(script: str, element_id: str | None) -> None:
    raise ExpressionError("refused", expression=script, element_id=element_id)


def load(content: bytes, name: str) -> None:
    """Everything a deployment does with a file; only retailflow errors may escape."""
    document = read_document(SourceFile.of(name, content))
    if isinstance(document, BpmnDocument):
        validate_schema(document)
    check_documents([document])
    check_documents([document], check_expression=strict_checker, check_script=strict_script)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_are_parsed_or_refused(content: bytes) -> None:
    with contextlib.suppress(RetailflowError):
        parse_document(content, file="random.bpmn")


@st.composite
def mutations(draw: st.DrawFn) -> bytes:
    """A valid file with elements dropped and attributes dropped or rewritten at random."""
    tree = etree.ElementTree(etree.fromstring(draw(st.sampled_from(SEEDS))))
    tree = copy.deepcopy(tree)
    for _ in range(draw(st.integers(1, 6))):
        elements = [element for element in tree.iter(etree.Element)]
        element = draw(st.sampled_from(elements))
        action = draw(
            st.sampled_from(["drop-element", "drop-attribute", "set-attribute", "set-text"])
        )
        if action == "drop-element" and element.getparent() is not None:
            element.getparent().remove(element)
        elif action == "drop-attribute" and element.attrib:
            del element.attrib[draw(st.sampled_from(sorted(element.attrib)))]
        elif action == "set-attribute" and element.attrib:
            element.set(draw(st.sampled_from(sorted(element.attrib))), draw(XML_TEXT))
        elif action == "set-text":
            element.text = draw(XML_TEXT)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_mutated_files_are_loaded_or_refused_with_findings(content: bytes) -> None:
    with contextlib.suppress(RetailflowError):
        load(content, "mutated.bpmn")


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(["a.bpmn", "a.dmn"]))
def test_random_bytes_in_any_kind_of_file_are_refused_cleanly(content: bytes, name: str) -> None:
    with contextlib.suppress(RetailflowError):
        load(content, name)


def test_a_dmn_file_survives_the_same_pipeline() -> None:
    load(dmn_file("discount"), "pricing.dmn")
