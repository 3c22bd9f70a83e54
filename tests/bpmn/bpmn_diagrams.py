"""Small diagrams as Camunda Modeler 5 writes them, for the ``retailflow.bpmn`` tests."""

from __future__ import annotations

from retailflow.bpmn import BpmnDocument, DmnDocument, SourceFile, read_document

_NAMESPACES = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
    'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
    'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:modeler="http://camunda.org/schema/modeler/1.0" '
)
_CAMUNDA8 = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<bpmn:definitions {_NAMESPACES}xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" '
    'exporter="Camunda Modeler" exporterVersion="5.22.0" '
    'modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.5.0">\n'
)
_CAMUNDA7 = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<bpmn:definitions {_NAMESPACES}xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" '
    'exporter="Camunda Modeler" exporterVersion="5.22.0" '
    'modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.21.0">\n'
)
_SPIFF = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f"<bpmn:definitions {_NAMESPACES}"
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">\n'
)
_PLAIN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f"<bpmn:definitions {_NAMESPACES}"
    'id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">\n'
)
_HEADERS = {"camunda8": _CAMUNDA8, "camunda7": _CAMUNDA7, "spiff": _SPIFF, "plain": _PLAIN}


def bpmn_file(body: str, dialect: str = "camunda8") -> bytes:
    """A whole ``.bpmn`` file: the dialect's Modeler header around ``body``."""
    return (_HEADERS[dialect] + body + "\n</bpmn:definitions>\n").encode()


def linear_process(
    task: str,
    *,
    task_id: str = "task",
    process_id: str = "order_fulfilment",
    executable: bool = True,
    extra: str = "",
) -> str:
    """start -> ``task`` -> end, the smallest process that runs one element."""
    flag = "true" if executable else "false"
    return f"""  <bpmn:process id="{process_id}" name="Order fulfilment" isExecutable="{flag}">
    <bpmn:startEvent id="start">
      <bpmn:outgoing>flow_in</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="flow_in" sourceRef="start" targetRef="{task_id}" />
{task}
    <bpmn:sequenceFlow id="flow_out" sourceRef="{task_id}" targetRef="end" />
    <bpmn:endEvent id="end">
      <bpmn:incoming>flow_out</bpmn:incoming>
    </bpmn:endEvent>
{extra}
  </bpmn:process>"""


def service_task(job_type: str = "inventory.reserve") -> str:
    """A Camunda 8 service task with a job type."""
    return f"""    <bpmn:serviceTask id="task" name="Reserve stock">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="{job_type}" />
      </bpmn:extensionElements>
      <bpmn:incoming>flow_in</bpmn:incoming>
      <bpmn:outgoing>flow_out</bpmn:outgoing>
    </bpmn:serviceTask>"""


def read(content: bytes, name: str = "order.bpmn") -> BpmnDocument | DmnDocument:
    """Read a file held in memory as a deployment would."""
    return read_document(SourceFile.of(name, content))


def read_bpmn(content: bytes, name: str = "order.bpmn") -> BpmnDocument:
    """Read a ``.bpmn`` file held in memory."""
    document = read(content, name)
    assert isinstance(document, BpmnDocument)
    return document


def dmn_file(*decision_ids: str) -> bytes:
    """A DMN 1.3 file (as Modeler 5 writes them) with one decision table per id."""
    decisions = "".join(
        f"""  <decision id="{decision_id}" name="{decision_id.replace("_", " ").title()}">
    <decisionTable id="table_{decision_id}">
      <input id="input_{decision_id}" label="Amount">
        <inputExpression id="expr_{decision_id}" typeRef="number"><text>amount</text>
        </inputExpression>
      </input>
      <output id="output_{decision_id}" name="discount" typeRef="number" />
    </decisionTable>
  </decision>
"""
        for decision_id in decision_ids
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" '
        'id="pricing" name="Pricing" namespace="http://camunda.org/schema/1.0/dmn">\n'
        f"{decisions}</definitions>\n"
    ).encode()
