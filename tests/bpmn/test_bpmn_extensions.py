"""Extension reading: the three dialects say the same things, and read the same way."""

from __future__ import annotations

from bpmn_diagrams import bpmn_file, linear_process, read_bpmn

from retailflow.bpmn import (
    Dialect,
    ElementConfig,
    IoMapping,
    read_element_config,
    read_message_correlation,
)
from retailflow.bpmn.namespaces import BPMN


def config_of(
    task: str, dialect: str, element_id: str = "task", extra: str = "", definitions: str = ""
) -> ElementConfig:
    document = read_bpmn(bpmn_file(definitions + linear_process(task, extra=extra), dialect))
    [element] = document.root.xpath(f"//*[@id='{element_id}']")
    return read_element_config(element)


# Camunda 8 ------------------------------------------------------------------------------------


def test_camunda8_service_task_reads_job_type_retries_headers_and_mappings() -> None:
    config = config_of(
        """
    <bpmn:serviceTask id="task" name="Reserve stock">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="inventory.reserve" retries="5" />
        <zeebe:ioMapping>
          <zeebe:input source="=order.items" target="items" />
          <zeebe:input source="berlin" target="warehouse" />
          <zeebe:output source="=reservation.id" target="reservationId" />
        </zeebe:ioMapping>
        <zeebe:taskHeaders>
          <zeebe:header key="priority" value="high" />
          <zeebe:header key="channel" value="store" />
        </zeebe:taskHeaders>
      </bpmn:extensionElements>
    </bpmn:serviceTask>""",
        "camunda8",
    )

    assert config.dialect is Dialect.CAMUNDA8
    assert (config.job_type, config.retries) == ("inventory.reserve", 5)
    assert config.headers == {"priority": "high", "channel": "store"}
    assert config.inputs == (
        IoMapping("items", "=order.items", "expression", "=order.items"),
        IoMapping("warehouse", "berlin", "literal", "berlin"),
    )
    assert config.outputs == (
        IoMapping("reservationId", "=reservation.id", "expression", "=reservation.id"),
    )


def test_camunda8_user_task_reads_assignment_form_and_schedule() -> None:
    config = config_of(
        """
    <bpmn:userTask id="task" name="Approve refund">
      <bpmn:extensionElements>
        <zeebe:assignmentDefinition assignee="=order.manager"
                                    candidateGroups="store-managers, finance"
                                    candidateUsers="anna" />
        <zeebe:formDefinition formId="refund-approval" />
        <zeebe:taskSchedule dueDate="=now() + duration(&quot;P1D&quot;)"
                            followUpDate="2025-03-01T09:00:00Z" />
        <zeebe:userTask />
      </bpmn:extensionElements>
    </bpmn:userTask>""",
        "camunda8",
    )

    assert config.assignee == "=order.manager"
    assert config.candidate_groups == "store-managers, finance"
    assert config.candidate_users == "anna"
    assert config.form_key == "refund-approval"
    assert config.due_date == '=now() + duration("P1D")'
    assert config.follow_up_date == "2025-03-01T09:00:00Z"


def test_camunda8_embedded_form_key_is_kept_as_written() -> None:
    config = config_of(
        """
    <bpmn:userTask id="task">
      <bpmn:extensionElements>
        <zeebe:formDefinition formKey="camunda-forms:bpmn:UserTaskForm_1" />
      </bpmn:extensionElements>
    </bpmn:userTask>""",
        "camunda8",
    )

    assert config.form_key == "camunda-forms:bpmn:UserTaskForm_1"


def test_camunda8_call_activity_propagates_all_variables_unless_told_otherwise() -> None:
    default = config_of(
        """
    <bpmn:callActivity id="task">
      <bpmn:extensionElements><zeebe:calledElement processId="shipping" /></bpmn:extensionElements>
    </bpmn:callActivity>""",
        "camunda8",
    )
    narrowed = config_of(
        """
    <bpmn:callActivity id="task">
      <bpmn:extensionElements>
        <zeebe:calledElement processId="shipping"
                             propagateAllChildVariables="false"
                             propagateAllParentVariables="false" />
      </bpmn:extensionElements>
    </bpmn:callActivity>""",
        "camunda8",
    )

    assert default.called_element == "shipping"
    assert default.propagate_all_child_variables and default.propagate_all_parent_variables
    assert not narrowed.propagate_all_child_variables
    assert not narrowed.propagate_all_parent_variables


def test_camunda8_business_rule_and_script_tasks() -> None:
    decision = config_of(
        """
    <bpmn:businessRuleTask id="task">
      <bpmn:extensionElements>
        <zeebe:calledDecision decisionId="discount" resultVariable="discount" />
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>""",
        "camunda8",
    )
    script = config_of(
        """
    <bpmn:scriptTask id="task">
      <bpmn:extensionElements>
        <zeebe:script expression="=sum(order.items.price)" resultVariable="total" />
      </bpmn:extensionElements>
    </bpmn:scriptTask>""",
        "camunda8",
    )

    assert (decision.called_decision, decision.result_variable) == ("discount", "discount")
    assert decision.map_decision_result is None
    assert script.script_expression == "=sum(order.items.price)"
    assert script.script_result_variable == "total"


def test_camunda8_correlation_key_lives_on_the_message() -> None:
    document = read_bpmn(
        bpmn_file(
            """
  <bpmn:message id="payment" name="payment_received">
    <bpmn:extensionElements>
      <zeebe:subscription correlationKey="=order.id" />
    </bpmn:extensionElements>
  </bpmn:message>
  <bpmn:message id="plain" name="anything" />"""
            + linear_process('    <bpmn:task id="task" />'),
            "camunda8",
        )
    )
    payment, plain = document.root.iterchildren(f"{{{BPMN}}}message")

    assert read_message_correlation(payment) == "=order.id"
    assert read_message_correlation(plain) is None
    assert document.correlation_keys == {"payment": "=order.id"}


# Camunda 7 ------------------------------------------------------------------------------------


def test_camunda7_external_task_reads_topic_and_retry_cycle() -> None:
    config = config_of(
        """
    <bpmn:serviceTask id="task"
                      camunda:type="external"
                      camunda:topic="inventory.reserve"
                      camunda:asyncBefore="true">
      <bpmn:extensionElements>
        <camunda:failedJobRetryTimeCycle>R5/PT10M</camunda:failedJobRetryTimeCycle>
      </bpmn:extensionElements>
    </bpmn:serviceTask>""",
        "camunda7",
    )

    assert config.dialect is Dialect.CAMUNDA7
    assert config.job_type == "inventory.reserve"
    assert (config.retry_time_cycle, config.retries) == ("R5/PT10M", 5)
    assert config.async_before
    assert config.java_delegate is None


def test_camunda7_retry_list_allows_one_retry_per_interval() -> None:
    config = config_of(
        """
    <bpmn:serviceTask id="task" camunda:type="external" camunda:topic="t">
      <bpmn:extensionElements>
        <camunda:failedJobRetryTimeCycle>PT1M,PT5M,PT10M</camunda:failedJobRetryTimeCycle>
      </bpmn:extensionElements>
    </bpmn:serviceTask>""",
        "camunda7",
    )

    assert config.retries == 3


def test_camunda7_parameters_tell_expressions_from_literals() -> None:
    config = config_of(
        """
    <bpmn:serviceTask id="task" camunda:type="external" camunda:topic="crm.notify">
      <bpmn:extensionElements>
        <camunda:inputOutput>
          <camunda:inputParameter name="customer">${order.customer}</camunda:inputParameter>
          <camunda:inputParameter name="template">order-shipped</camunda:inputParameter>
          <camunda:inputParameter
              name="greeting">Hello ${order.customer.name}</camunda:inputParameter>
          <camunda:inputParameter name="nothing" />
          <camunda:inputParameter name="channels">
            <camunda:list>
              <camunda:value>email</camunda:value>
              <camunda:value>${preferredChannel}</camunda:value>
            </camunda:list>
          </camunda:inputParameter>
          <camunda:inputParameter name="labels">
            <camunda:map>
              <camunda:entry key="store">${order.store}</camunda:entry>
              <camunda:entry key="kind">retail</camunda:entry>
            </camunda:map>
          </camunda:inputParameter>
          <camunda:outputParameter name="notified">${sent}</camunda:outputParameter>
        </camunda:inputOutput>
      </bpmn:extensionElements>
    </bpmn:serviceTask>""",
        "camunda7",
    )

    customer, template, greeting, nothing, channels, labels = config.inputs
    assert customer == IoMapping("customer", "${order.customer}", "expression", "${order.customer}")
    assert template == IoMapping("template", "order-shipped", "literal", "order-shipped")
    assert greeting.kind == "expression"
    assert nothing == IoMapping("nothing", None, "literal", None)
    assert channels == IoMapping(
        "channels",
        None,
        "list",
        (
            IoMapping("0", "email", "literal", "email"),
            IoMapping("1", "${preferredChannel}", "expression", "${preferredChannel}"),
        ),
    )
    assert labels == IoMapping(
        "labels",
        None,
        "map",
        (
            IoMapping("store", "${order.store}", "expression", "${order.store}"),
            IoMapping("kind", "retail", "literal", "retail"),
        ),
    )
    assert config.outputs == (IoMapping("notified", "${sent}", "expression", "${sent}"),)


def test_camunda7_user_task_attributes() -> None:
    config = config_of(
        """
    <bpmn:userTask id="task"
                   camunda:assignee="${manager}"
                   camunda:candidateGroups="store-managers,finance"
                   camunda:candidateUsers="anna,ben"
                   camunda:formKey="embedded:app:forms/refund.html"
                   camunda:dueDate="${dueDate}"
                   camunda:followUpDate="2025-03-01T09:00:00" />""",
        "camunda7",
    )

    assert config.assignee == "${manager}"
    assert config.candidate_groups == "store-managers,finance"
    assert config.candidate_users == "anna,ben"
    assert config.form_key == "embedded:app:forms/refund.html"
    assert config.due_date == "${dueDate}"
    assert config.follow_up_date == "2025-03-01T09:00:00"


def test_camunda7_business_rule_task_maps_results_as_a_list_by_default() -> None:
    default = config_of(
        """
    <bpmn:businessRuleTask id="task"
                           camunda:resultVariable="discount"
                           camunda:decisionRef="discount" />""",
        "camunda7",
    )
    single = config_of(
        """
    <bpmn:businessRuleTask id="task"
                           camunda:resultVariable="discount"
                           camunda:decisionRef="discount"
                           camunda:mapDecisionResult="singleEntry" />""",
        "camunda7",
    )

    assert (default.called_decision, default.result_variable) == ("discount", "discount")
    assert default.map_decision_result == "resultList"
    assert single.map_decision_result == "singleEntry"


def test_camunda7_call_activity_propagates_only_with_variables_all() -> None:
    explicit = config_of(
        """
    <bpmn:callActivity id="task" calledElement="shipping">
      <bpmn:extensionElements>
        <camunda:in source="orderId" target="orderId" />
        <camunda:in sourceExpression="${order.address}" target="address" />
        <camunda:out source="trackingNumber" target="tracking" />
      </bpmn:extensionElements>
    </bpmn:callActivity>""",
        "camunda7",
    )
    everything = config_of(
        """
    <bpmn:callActivity id="task" calledElement="shipping">
      <bpmn:extensionElements>
        <camunda:in variables="all" />
        <camunda:out variables="all" />
      </bpmn:extensionElements>
    </bpmn:callActivity>""",
        "camunda7",
    )

    assert explicit.called_element == "shipping"
    assert not explicit.propagate_all_parent_variables
    assert not explicit.propagate_all_child_variables
    assert explicit.inputs == (
        IoMapping("orderId", "orderId", "expression", "${orderId}"),
        IoMapping("address", "${order.address}", "expression", "${order.address}"),
    )
    assert explicit.outputs == (
        IoMapping("tracking", "trackingNumber", "expression", "${trackingNumber}"),
    )
    assert everything.propagate_all_parent_variables
    assert everything.propagate_all_child_variables


def test_camunda7_java_delegates_are_recorded_so_a_check_can_refuse_them() -> None:
    config = config_of(
        """
    <bpmn:serviceTask id="task" camunda:class="com.acme.ReserveStock" />""",
        "camunda7",
    )

    assert config.java_delegate == ("class", "com.acme.ReserveStock")
    assert config.job_type is None


def test_camunda7_message_throw_event_reads_its_topic_from_the_event_definition() -> None:
    config = config_of(
        """
    <bpmn:intermediateThrowEvent id="task">
      <bpmn:messageEventDefinition id="def" camunda:type="external" camunda:topic="crm.notify" />
    </bpmn:intermediateThrowEvent>""",
        "camunda7",
    )

    assert config.job_type == "crm.notify"


def test_camunda7_script_task_result_variable() -> None:
    config = config_of(
        """
    <bpmn:scriptTask id="task" scriptFormat="python" camunda:resultVariable="total">
      <bpmn:script>total = sum(prices)</bpmn:script>
    </bpmn:scriptTask>""",
        "camunda7",
    )

    assert (config.script, config.script_format) == ("total = sum(prices)", "python")
    assert config.script_result_variable == "total"


# SpiffWorkflow and plain BPMN -----------------------------------------------------------------


def test_spiff_service_task_operator_becomes_job_type_and_python_inputs() -> None:
    config = config_of(
        """
    <bpmn:serviceTask id="task">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="inventory.reserve" resultVariable="reservation">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="sku" type="str" value="order['sku']" />
            <spiffworkflow:parameter id="quantity" type="int" value="2" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
        <spiffworkflow:preScript>quantity = 2</spiffworkflow:preScript>
        <spiffworkflow:postScript>del quantity</spiffworkflow:postScript>
      </bpmn:extensionElements>
    </bpmn:serviceTask>""",
        "spiff",
    )

    assert config.dialect is Dialect.SPIFF
    assert config.job_type == "inventory.reserve"
    assert config.result_variable == "reservation"
    assert config.inputs == (
        IoMapping("sku", "order['sku']", "expression", "order['sku']"),
        IoMapping("quantity", "2", "expression", "2"),
    )
    assert (config.pre_script, config.post_script) == ("quantity = 2", "del quantity")


def test_spiff_business_rule_task_reads_called_decision_id() -> None:
    config = config_of(
        """
    <bpmn:businessRuleTask id="task">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>discount</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>""",
        "spiff",
    )

    assert config.called_decision == "discount"


def test_an_element_without_extensions_takes_the_files_dialect() -> None:
    assert config_of('    <bpmn:task id="task" />', "camunda8").dialect is Dialect.CAMUNDA8
    assert config_of('    <bpmn:task id="task" />', "camunda7").dialect is Dialect.CAMUNDA7
    assert config_of('    <bpmn:task id="task" />', "plain") == ElementConfig(Dialect.PLAIN)
