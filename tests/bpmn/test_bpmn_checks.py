"""Static checks: each rule fires on a broken file and stays quiet on its near twin."""

from __future__ import annotations

import pytest
from bpmn_diagrams import bpmn_file, dmn_file, linear_process, read, read_bpmn, service_task

from retailflow.bpmn import (
    BpmnDocument,
    DmnDocument,
    ExpressionChecker,
    ScriptChecker,
    check_documents,
)
from retailflow.model import ExpressionError, Finding, Severity


def check(
    body: str,
    dialect: str = "camunda8",
    *others: BpmnDocument | DmnDocument,
    check_expression: ExpressionChecker | None = None,
    check_script: ScriptChecker | None = None,
) -> list[Finding]:
    document = read_bpmn(bpmn_file(body, dialect))
    return check_documents(
        [document, *others], check_expression=check_expression, check_script=check_script
    )


def rules(findings: list[Finding]) -> list[tuple[str, str | None]]:
    return [(finding.rule, finding.element_id) for finding in findings]


def task(xml: str) -> str:
    return linear_process(xml)


OK_TASK = task(service_task())

CASES = {
    "process not executable": (
        linear_process(service_task(), executable=False),
        OK_TASK,
        "camunda8",
        [("process-not-executable", "order_fulfilment")],
    ),
    "complex gateway": (
        task('    <bpmn:complexGateway id="task" />'),
        task('    <bpmn:exclusiveGateway id="task" />'),
        "camunda8",
        [("unsupported-element", "task")],
    ),
    "compensation boundary without a handler": (
        task(service_task()).replace(
            "</bpmn:process>",
            """
    <bpmn:boundaryEvent id="undo" attachedToRef="task">
      <bpmn:compensateEventDefinition id="ced" />
    </bpmn:boundaryEvent>
  </bpmn:process>""",
        ),
        task(service_task()).replace(
            "</bpmn:process>",
            """
    <bpmn:boundaryEvent id="undo" attachedToRef="task">
      <bpmn:errorEventDefinition id="eed" />
    </bpmn:boundaryEvent>
  </bpmn:process>""",
        ),
        "camunda8",
        [("missing-reference", "undo")],
    ),
    "link event without its catch": (
        task(
            '    <bpmn:intermediateThrowEvent id="task">'
            '<bpmn:linkEventDefinition id="led" name="to_shipping" />'
            "</bpmn:intermediateThrowEvent>"
            '<bpmn:intermediateCatchEvent id="catch">'
            '<bpmn:linkEventDefinition id="lcd" name="to_shiping" />'
            "</bpmn:intermediateCatchEvent>"
        ),
        task(
            '    <bpmn:intermediateThrowEvent id="task">'
            '<bpmn:linkEventDefinition id="led" name="to_shipping" />'
            "</bpmn:intermediateThrowEvent>"
            '<bpmn:intermediateCatchEvent id="catch">'
            '<bpmn:linkEventDefinition id="lcd" name="to_shipping" />'
            "</bpmn:intermediateCatchEvent>"
        ),
        "camunda8",
        [("link-event", "task")],
    ),
    "conditional event": (
        task(
            '    <bpmn:intermediateCatchEvent id="task"><bpmn:conditionalEventDefinition '
            'id="ced"><bpmn:condition xsi:type="bpmn:tFormalExpression">=stock &gt; 0'
            "</bpmn:condition></bpmn:conditionalEventDefinition>"
            "</bpmn:intermediateCatchEvent>"
        ),
        task(
            '    <bpmn:intermediateCatchEvent id="task"><bpmn:timerEventDefinition id="ted">'
            '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration>'
            "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
        ),
        "camunda8",
        [("unsupported-element", "task")],
    ),
    "data store": (
        task('    <bpmn:task id="task" />').replace(
            "</bpmn:process>", '<bpmn:dataStoreReference id="stock_db" /></bpmn:process>'
        ),
        task('    <bpmn:task id="task" />').replace(
            "</bpmn:process>",
            '<bpmn:dataObjectReference id="stock_db" '
            'dataObjectRef="stock" /><bpmn:dataObject id="stock" />'
            "</bpmn:process>",
        ),
        "spiff",
        [("unsupported-element", "stock_db")],
    ),
    "connector": (
        task(
            '    <bpmn:serviceTask id="task"><bpmn:extensionElements><camunda:connector>'
            "<camunda:connectorId>http-connector</camunda:connectorId></camunda:connector>"
            "</bpmn:extensionElements></bpmn:serviceTask>"
        ),
        task('    <bpmn:serviceTask id="task" camunda:class="com.acme.Reserve" />'),
        "camunda7",
        [("unsupported-element", "task")],
    ),
    "groovy listener": (
        task(
            '    <bpmn:serviceTask id="task" camunda:type="external" camunda:topic="t">'
            '<bpmn:extensionElements><camunda:executionListener event="start">'
            '<camunda:script scriptFormat="groovy">x = 1</camunda:script>'
            "</camunda:executionListener></bpmn:extensionElements></bpmn:serviceTask>"
        ),
        task(
            '    <bpmn:serviceTask id="task" camunda:type="external" camunda:topic="t">'
            '<bpmn:extensionElements><camunda:executionListener event="start">'
            '<camunda:script scriptFormat="python">x = 1</camunda:script>'
            "</camunda:executionListener></bpmn:extensionElements></bpmn:serviceTask>"
        ),
        "camunda7",
        [("unsupported-element", "task")],
    ),
    "listener event": (
        task(
            '    <bpmn:userTask id="task"><bpmn:extensionElements>'
            '<camunda:taskListener class="com.acme.Escalate" event="timeout" />'
            "</bpmn:extensionElements></bpmn:userTask>"
        ),
        task(
            '    <bpmn:userTask id="task"><bpmn:extensionElements>'
            '<camunda:taskListener class="com.acme.Escalate" event="create" />'
            "</bpmn:extensionElements></bpmn:userTask>"
        ),
        "camunda7",
        [("unsupported-element", "task")],
    ),
    "async continuation outside a handler's task": (
        task('    <bpmn:userTask id="task" camunda:asyncBefore="true" />'),
        task(
            '    <bpmn:serviceTask id="task" camunda:asyncBefore="true" '
            'camunda:class="com.acme.Reserve" />'
        ),
        "camunda7",
        [("setting-ignored", "task")],
    ),
    "field injection": (
        task(
            '    <bpmn:serviceTask id="task" camunda:class="com.acme.Reserve">'
            '<bpmn:extensionElements><camunda:field name="url"><camunda:string>x'
            "</camunda:string></camunda:field></bpmn:extensionElements></bpmn:serviceTask>"
        ),
        task('    <bpmn:serviceTask id="task" camunda:class="com.acme.Reserve" />'),
        "camunda7",
        [("setting-ignored", "task")],
    ),
    "start listener on a flow": (
        task('    <bpmn:serviceTask id="task" camunda:class="com.acme.Reserve" />').replace(
            '<bpmn:sequenceFlow id="flow_out" sourceRef="task" targetRef="end" />',
            '<bpmn:sequenceFlow id="flow_out" sourceRef="task" targetRef="end">'
            '<bpmn:extensionElements><camunda:executionListener class="com.acme.Audit" '
            'event="start" /></bpmn:extensionElements></bpmn:sequenceFlow>',
        ),
        task('    <bpmn:serviceTask id="task" camunda:class="com.acme.Reserve" />')
        .replace(
            '<bpmn:sequenceFlow id="flow_out" sourceRef="task" targetRef="end" />',
            '<bpmn:sequenceFlow id="flow_out" sourceRef="task" targetRef="end">'
            '<bpmn:extensionElements><camunda:executionListener class="com.acme.Audit" '
            'event="take" /></bpmn:extensionElements></bpmn:sequenceFlow>',
        )
        .replace(
            '<bpmn:process id="order_fulfilment" name="Order fulfilment" isExecutable="true">',
            '<bpmn:process id="order_fulfilment" name="Order fulfilment" isExecutable="true">'
            '<bpmn:extensionElements><camunda:executionListener class="com.acme.Open" '
            'event="start" /></bpmn:extensionElements>',
        ),
        "camunda7",
        [("unsupported-element", "flow_out")],
    ),
    "listener without handler name": (
        task(
            '    <bpmn:serviceTask id="task"><bpmn:extensionElements>'
            '<zeebe:taskDefinition type="t" /><zeebe:executionListeners>'
            '<zeebe:executionListener eventType="start" /></zeebe:executionListeners>'
            "</bpmn:extensionElements></bpmn:serviceTask>"
        ),
        task(
            '    <bpmn:serviceTask id="task"><bpmn:extensionElements>'
            '<zeebe:taskDefinition type="t" /><zeebe:executionListeners>'
            '<zeebe:executionListener eventType="start" type="audit" />'
            "</zeebe:executionListeners></bpmn:extensionElements></bpmn:serviceTask>"
        ),
        "camunda8",
        [("missing-job-type", "task")],
    ),
    "groovy script": (
        task(
            '    <bpmn:scriptTask id="task" scriptFormat="groovy">'
            "<bpmn:script>total = 1</bpmn:script></bpmn:scriptTask>"
        ),
        task(
            '    <bpmn:scriptTask id="task" scriptFormat="python">'
            "<bpmn:script>total = 1</bpmn:script></bpmn:scriptTask>"
        ),
        "camunda7",
        [("unsupported-element", "task")],
    ),
    "undefined message": (
        '  <bpmn:message id="Message_paid" name="payment_received" />\n'
        + task('    <bpmn:receiveTask id="task" messageRef="Message_typo" />'),
        '  <bpmn:message id="Message_paid" name="payment_received" />\n'
        + task('    <bpmn:receiveTask id="task" messageRef="Message_paid" />'),
        "camunda8",
        [("missing-reference", "task")],
    ),
    "undefined signal": (
        task(
            '    <bpmn:intermediateCatchEvent id="task">'
            '<bpmn:signalEventDefinition id="sed" signalRef="Signal_typo" />'
            "</bpmn:intermediateCatchEvent>"
        ),
        '  <bpmn:signal id="Signal_typo" name="recall" />\n'
        + task(
            '    <bpmn:intermediateCatchEvent id="task">'
            '<bpmn:signalEventDefinition id="sed" signalRef="Signal_typo" />'
            "</bpmn:intermediateCatchEvent>"
        ),
        "camunda8",
        [("missing-reference", "task")],
    ),
    "undefined error": (
        task(service_task()).replace(
            "</bpmn:process>",
            """
    <bpmn:boundaryEvent id="no_stock" attachedToRef="task">
      <bpmn:errorEventDefinition id="eed" errorRef="Error_typo" />
    </bpmn:boundaryEvent>
  </bpmn:process>""",
        ),
        '  <bpmn:error id="Error_typo" name="No stock" errorCode="NO_STOCK" />\n'
        + task(service_task()).replace(
            "</bpmn:process>",
            """
    <bpmn:boundaryEvent id="no_stock" attachedToRef="task">
      <bpmn:errorEventDefinition id="eed" errorRef="Error_typo" />
    </bpmn:boundaryEvent>
  </bpmn:process>""",
        ),
        "camunda8",
        [("missing-reference", "no_stock")],
    ),
    "undefined escalation": (
        task(
            '    <bpmn:intermediateThrowEvent id="task">'
            '<bpmn:escalationEventDefinition id="esc" escalationRef="Escalation_typo" />'
            "</bpmn:intermediateThrowEvent>"
        ),
        '  <bpmn:escalation id="Escalation_typo" name="Late" escalationCode="LATE" />\n'
        + task(
            '    <bpmn:intermediateThrowEvent id="task">'
            '<bpmn:escalationEventDefinition id="esc" escalationRef="Escalation_typo" />'
            "</bpmn:intermediateThrowEvent>"
        ),
        "camunda8",
        [("missing-reference", "task")],
    ),
    "dangling sequence flow": (
        OK_TASK.replace('targetRef="end"', 'targetRef="ending"'),
        OK_TASK,
        "camunda8",
        [("missing-reference", "flow_out")],
    ),
    "default flow elsewhere": (
        task('    <bpmn:exclusiveGateway id="task" default="flow_in" />'),
        task('    <bpmn:exclusiveGateway id="task" default="flow_out" />'),
        "camunda8",
        [("missing-reference", "task")],
    ),
    "boundary attached to nothing": (
        task(service_task()).replace(
            "</bpmn:process>",
            """
    <bpmn:boundaryEvent id="late" attachedToRef="tsak">
      <bpmn:timerEventDefinition id="ted"><bpmn:timeDuration>PT1H</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
  </bpmn:process>""",
        ),
        task(service_task()).replace(
            "</bpmn:process>",
            """
    <bpmn:boundaryEvent id="late" attachedToRef="task">
      <bpmn:timerEventDefinition id="ted"><bpmn:timeDuration>PT1H</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
  </bpmn:process>""",
        ),
        "camunda8",
        [("missing-reference", "late")],
    ),
    "camunda 8 service task without type": (
        task('    <bpmn:serviceTask id="task" name="Reserve stock" />'),
        OK_TASK,
        "camunda8",
        [("missing-job-type", "task")],
    ),
    "camunda 7 service task without topic": (
        task('    <bpmn:serviceTask id="task" camunda:type="external" />'),
        task('    <bpmn:serviceTask id="task" camunda:type="external" camunda:topic="t" />'),
        "camunda7",
        [("missing-job-type", "task")],
    ),
    "spiff send task without operator or message": (
        task('    <bpmn:sendTask id="task" />'),
        '  <bpmn:message id="Message_1" name="shipped" />\n'
        + task('    <bpmn:sendTask id="task" messageRef="Message_1" />'),
        "spiff",
        [("missing-job-type", "task")],
    ),
    "duplicate id": (
        OK_TASK.replace('<bpmn:endEvent id="end">', '<bpmn:endEvent id="start">').replace(
            'targetRef="end"', 'targetRef="start"'
        ),
        OK_TASK,
        "camunda8",
        [("duplicate-id", "start")],
    ),
    "no start event": (
        '  <bpmn:process id="p" isExecutable="true">\n    <bpmn:task id="t" />\n  </bpmn:process>',
        '  <bpmn:process id="p" isExecutable="true">\n'
        '    <bpmn:startEvent id="t" />\n  </bpmn:process>',
        "camunda8",
        [("start-event-required", "p")],
    ),
    "flow node without id": (
        task(service_task()).replace("</bpmn:process>", "<bpmn:task /></bpmn:process>"),
        task(service_task()).replace("</bpmn:process>", '<bpmn:task id="x" /></bpmn:process>'),
        "camunda8",
        [("missing-id", None)],
    ),
    "timer that is not ISO 8601": (
        task(
            '    <bpmn:intermediateCatchEvent id="task"><bpmn:timerEventDefinition id="ted">'
            '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">5 minutes'
            "</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
        ),
        task(
            '    <bpmn:intermediateCatchEvent id="task"><bpmn:timerEventDefinition id="ted">'
            '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT5M'
            "</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
        ),
        "camunda8",
        [("expression-invalid", "task")],
    ),
    "empty script task": (
        task('    <bpmn:scriptTask id="task" />'),
        task(
            '    <bpmn:scriptTask id="task"><bpmn:extensionElements><zeebe:script '
            'expression="=1 + 1" resultVariable="two" /></bpmn:extensionElements>'
            "</bpmn:scriptTask>"
        ),
        "camunda8",
        [("missing-script", "task")],
    ),
    "mapping on a user task": (
        task(
            '    <bpmn:userTask id="task"><bpmn:extensionElements><zeebe:ioMapping>'
            '<zeebe:output source="=approved" target="order_approved" />'
            "</zeebe:ioMapping></bpmn:extensionElements></bpmn:userTask>"
        ),
        task(
            '    <bpmn:serviceTask id="task"><bpmn:extensionElements>'
            '<zeebe:taskDefinition type="orders.approve" /><zeebe:ioMapping>'
            '<zeebe:output source="=approved" target="order_approved" />'
            "</zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>"
        ),
        "camunda8",
        [("mapping-ignored", "task")],
    ),
    "camunda 7 mapping on a manual task": (
        task(
            '    <bpmn:manualTask id="task"><bpmn:extensionElements><camunda:inputOutput>'
            '<camunda:outputParameter name="paid">${amount > 0}</camunda:outputParameter>'
            "</camunda:inputOutput></bpmn:extensionElements></bpmn:manualTask>"
        ),
        task(
            '    <bpmn:serviceTask id="task" camunda:type="external" camunda:topic="pay">'
            "<bpmn:extensionElements><camunda:inputOutput>"
            '<camunda:outputParameter name="paid">${amount > 0}</camunda:outputParameter>'
            "</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"
        ),
        "camunda7",
        [("mapping-ignored", "task")],
    ),
    "camunda 8 message throw event with neither job type nor message": (
        task(
            '    <bpmn:intermediateThrowEvent id="task">'
            '<bpmn:messageEventDefinition id="med" /></bpmn:intermediateThrowEvent>'
        ),
        task(
            '    <bpmn:intermediateThrowEvent id="task"><bpmn:extensionElements>'
            '<zeebe:taskDefinition type="notify" /></bpmn:extensionElements>'
            '<bpmn:messageEventDefinition id="med" /></bpmn:intermediateThrowEvent>'
        ),
        "camunda8",
        [("missing-job-type", "task")],
    ),
    "mapping on a signal catch event": (
        '  <bpmn:signal id="Signal_1" name="restocked" />\n'
        + task(
            '    <bpmn:intermediateCatchEvent id="task"><bpmn:extensionElements>'
            '<zeebe:ioMapping><zeebe:output source="=sku" target="restocked_sku" />'
            "</zeebe:ioMapping></bpmn:extensionElements>"
            '<bpmn:signalEventDefinition id="sed" signalRef="Signal_1" />'
            "</bpmn:intermediateCatchEvent>"
        ),
        '  <bpmn:message id="Message_1" name="restocked" />\n'
        + task(
            '    <bpmn:intermediateCatchEvent id="task"><bpmn:extensionElements>'
            '<zeebe:ioMapping><zeebe:output source="=sku" target="restocked_sku" />'
            "</zeebe:ioMapping></bpmn:extensionElements>"
            '<bpmn:messageEventDefinition id="med" messageRef="Message_1" />'
            "</bpmn:intermediateCatchEvent>"
        ),
        "camunda8",
        [("mapping-ignored", "task")],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_rule_fires_on_the_broken_file_only(case: str) -> None:
    broken, fixed, dialect, expected = CASES[case]

    assert rules(check(broken, dialect)) == expected
    assert check(fixed, dialect) == []


def test_every_finding_says_where_and_what_to_do() -> None:
    [finding] = check(task('    <bpmn:complexGateway id="task" />'))

    assert finding.severity is Severity.ERROR
    assert finding.file == "order.bpmn"
    assert finding.line == 8
    assert finding.hint


def test_a_non_executable_process_is_only_a_warning_and_is_not_checked_further() -> None:
    findings = check(linear_process('    <bpmn:complexGateway id="task" />', executable=False))

    assert [(f.rule, f.severity) for f in findings] == [
        ("process-not-executable", Severity.WARNING)
    ]


# References between files ----------------------------------------------------------------------

CALLER = task(
    '    <bpmn:callActivity id="task"><bpmn:extensionElements>'
    '<zeebe:calledElement processId="shipping" /></bpmn:extensionElements>'
    "</bpmn:callActivity>"
)
DECIDER = task(
    '    <bpmn:businessRuleTask id="task"><bpmn:extensionElements>'
    '<zeebe:calledDecision decisionId="discount" resultVariable="d" />'
    "</bpmn:extensionElements></bpmn:businessRuleTask>"
)


def shipping(executable: bool = True) -> BpmnDocument:
    return read_bpmn(
        bpmn_file(linear_process(service_task(), process_id="shipping", executable=executable)),
        "shipping.bpmn",
    )


def test_a_called_process_must_be_deployed_together() -> None:
    assert rules(check(CALLER)) == [("called-element-unknown", "task")]
    assert check(CALLER, "camunda8", shipping()) == []


def test_a_called_process_must_be_executable() -> None:
    findings = check(CALLER, "camunda8", shipping(executable=False))

    assert ("called-element-unknown", "task") in rules(findings)
    assert "not executable" in findings[-1].message


def test_a_called_process_id_written_as_an_expression_is_resolved_at_run_time() -> None:
    dynamic = CALLER.replace('processId="shipping"', 'processId="=carrier"')

    assert check(dynamic) == []


def test_a_called_decision_must_be_deployed_together() -> None:
    assert rules(check(DECIDER)) == [("called-decision-unknown", "task")]
    assert check(DECIDER, "camunda8", read(dmn_file("discount"), "pricing.dmn")) == []


def test_a_process_id_defined_in_two_files_is_a_duplicate() -> None:
    findings = check(linear_process(service_task(), process_id="shipping"), "camunda8", shipping())

    assert rules(findings) == [("duplicate-id", "shipping")]
    assert "order.bpmn" in findings[0].message


def test_a_sub_process_id_clashing_with_another_files_process_is_a_duplicate() -> None:
    sub_process = """    <bpmn:subProcess id="shipping" name="Ship">
      <bpmn:startEvent id="inner_start" />
      <bpmn:sequenceFlow id="inner_flow" sourceRef="inner_start" targetRef="inner_end" />
      <bpmn:endEvent id="inner_end" />
    </bpmn:subProcess>"""
    findings = check(linear_process(sub_process, task_id="shipping"), "camunda8", shipping())

    assert rules(findings) == [("duplicate-id", "shipping")]
    assert "is also the id of a sub-process in order.bpmn" in findings[0].message
    assert (
        check(
            linear_process(sub_process.replace('"shipping"', '"packing"'), task_id="packing"),
            "camunda8",
            shipping(),
        )
        == []
    )


# Expressions -----------------------------------------------------------------------------------


class RecordingChecker:
    """Stands in for the engine's expression engine: refuses any text containing '!!'."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []

    def __call__(self, text: str, language: str, element_id: str | None) -> None:
        self.calls.append((text, language, element_id))
        if "!!" in text:
            raise ExpressionError("unexpected '!!'", expression=text, element_id=element_id)


GATEWAY = """  <bpmn:process id="order_fulfilment" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:exclusiveGateway id="in_stock" default="no" />
    <bpmn:sequenceFlow id="start_flow" sourceRef="start" targetRef="in_stock" />
    <bpmn:sequenceFlow id="yes" sourceRef="in_stock" targetRef="ship">
      <bpmn:conditionExpression
          xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="no" sourceRef="in_stock" targetRef="cancel" />
    <bpmn:endEvent id="ship" />
    <bpmn:endEvent id="cancel" />
  </bpmn:process>"""


@pytest.mark.parametrize(
    ("dialect", "condition", "language"),
    [
        ("camunda8", "=stock &gt; 0", "feel"),
        ("camunda7", "${stock &gt; 0}", "juel"),
        ("spiff", "stock &gt; 0", "python"),
    ],
)
def test_conditions_are_checked_in_their_own_language(
    dialect: str, condition: str, language: str
) -> None:
    checker = RecordingChecker()

    assert check(GATEWAY.format(condition=condition), dialect, check_expression=checker) == []
    assert checker.calls == [(condition.replace("&gt;", ">"), language, "yes")]


def test_an_invalid_condition_becomes_a_finding() -> None:
    findings = check(GATEWAY.format(condition="=stock !! 0"), check_expression=RecordingChecker())

    assert rules(findings) == [("expression-invalid", "yes")]
    assert "unexpected '!!'" in findings[0].message


def test_mappings_correlation_keys_scripts_and_timers_are_checked() -> None:
    body = """  <bpmn:message id="paid" name="payment_received">
    <bpmn:extensionElements>
      <zeebe:subscription correlationKey="=order.id !!" />
    </bpmn:extensionElements>
  </bpmn:message>""" + task("""    <bpmn:serviceTask id="task">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="inventory.reserve" />
        <zeebe:ioMapping>
          <zeebe:input source="=order.items !!" target="items" />
          <zeebe:input source="static text !!" target="note" />
        </zeebe:ioMapping>
      </bpmn:extensionElements>
    </bpmn:serviceTask>""").replace(
        "</bpmn:process>",
        """
    <bpmn:boundaryEvent id="late" attachedToRef="task">
      <bpmn:timerEventDefinition id="ted">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">=wait !!</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:scriptTask id="script">
      <bpmn:extensionElements>
        <zeebe:script expression="=1 !!" resultVariable="x" />
      </bpmn:extensionElements>
    </bpmn:scriptTask>
  </bpmn:process>""",
    )

    findings = check(body, check_expression=RecordingChecker())

    assert sorted(rules(findings)) == [
        ("expression-invalid", "late"),
        ("expression-invalid", "paid"),
        ("expression-invalid", "script"),
        ("expression-invalid", "task"),
    ]


def test_camunda7_literal_parameters_are_not_expressions() -> None:
    checker = RecordingChecker()
    body = task("""    <bpmn:serviceTask id="task" camunda:type="external"
                      camunda:topic="crm.notify">
      <bpmn:extensionElements>
        <camunda:inputOutput>
          <camunda:inputParameter name="template">order shipped !!</camunda:inputParameter>
          <camunda:inputParameter name="customer">${order.customer}</camunda:inputParameter>
        </camunda:inputOutput>
      </bpmn:extensionElements>
    </bpmn:serviceTask>""")

    assert check(body, "camunda7", check_expression=checker) == []
    assert checker.calls == [("${order.customer}", "juel", "task")]


def test_spiff_parameters_are_python_expressions_and_scripts_go_to_the_script_checker() -> None:
    expressions = RecordingChecker()
    scripts: list[tuple[str, str | None]] = []
    body = task("""    <bpmn:serviceTask id="task">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="inventory.reserve">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="sku" type="str" value="order['sku']" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
        <spiffworkflow:preScript>quantity = 2</spiffworkflow:preScript>
      </bpmn:extensionElements>
    </bpmn:serviceTask>""")

    findings = check(
        body,
        "spiff",
        check_expression=expressions,
        check_script=lambda script, element_id: scripts.append((script, element_id)),
    )

    assert findings == []
    assert expressions.calls == [("order['sku']", "python", "task")]
    assert scripts == [("quantity = 2", "task")]


SCRIPT_TASK = task(
    """    <bpmn:scriptTask id="task" scriptFormat="python">
      <bpmn:script>total = sum(i["price"] * i["qty"] for i in items)
if total &gt; 100:
    discount = 0.1</bpmn:script>
    </bpmn:scriptTask>"""
)


def test_a_script_with_a_syntax_error_fails_at_deploy_time_not_at_run_time() -> None:
    broken = SCRIPT_TASK.replace("discount = 0.1", "discount = = 0.1")

    findings = check(broken, "spiff")

    assert rules(findings) == [("expression-invalid", "task")]
    assert "line 3" in findings[0].message
    assert check(SCRIPT_TASK, "spiff") == []


# Many files at once (their speed is measured in benchmarks/validate_bench.py) ------------------


def test_a_hundred_files_check_together_without_findings() -> None:
    documents = [
        read_bpmn(bpmn_file(_retail_process(number)), f"p{number}.bpmn") for number in range(100)
    ]

    assert check_documents(documents, check_expression=RecordingChecker()) == []


def _retail_process(number: int) -> str:
    tasks = "".join(
        f"""
    <bpmn:serviceTask id="task_{step}">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="step.{step}" retries="3" />
        <zeebe:ioMapping><zeebe:input source="=order.items" target="items" /></zeebe:ioMapping>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="flow_{step}" sourceRef="task_{step}" targetRef="task_{step + 1}">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=ok</bpmn:conditionExpression>
    </bpmn:sequenceFlow>"""
        for step in range(15)
    )
    return f"""  <bpmn:process id="process_{number}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="flow_start" sourceRef="start" targetRef="task_0" />{tasks}
    <bpmn:endEvent id="task_15" />
  </bpmn:process>"""


def test_a_retries_expression_is_checked_like_the_job_type() -> None:
    checker = RecordingChecker()
    body = task(
        '    <bpmn:serviceTask id="task"><bpmn:extensionElements>'
        '<zeebe:taskDefinition type="=job_type" retries="=max_retries !! 1" />'
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )

    assert rules(check(body, check_expression=checker)) == [("expression-invalid", "task")]
    assert ("=job_type", "feel", "task") in checker.calls
