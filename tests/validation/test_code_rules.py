"""Diagram against code: job types, handler inputs and outputs, unused handlers."""

from __future__ import annotations

import itertools
from pathlib import Path

from diagrams import flow, node, process
from shop_handlers import registry

from retailflow.bpmn import SourceFile, read_document
from retailflow.bpmn.document import BpmnDocument
from retailflow.element_templates import template_version
from retailflow.handlers import HandlerRegistry
from retailflow.retail import Backoffice, retail_handlers
from retailflow.validation import validate
from retailflow.validation.code_rules import check_code

PROCESSES = Path(__file__).parents[2] / "processes"


def service(task_id: str, job_type: str, *, inputs: str = "", outputs: str = "") -> str:
    mappings = ""
    if inputs or outputs:
        mappings = f"<zeebe:ioMapping>{inputs}{outputs}</zeebe:ioMapping>"
    return node(
        "serviceTask",
        task_id,
        inner=(
            f'<bpmn:extensionElements><zeebe:taskDefinition type="{job_type}" />{mappings}'
            "</bpmn:extensionElements>"
        ),
    )


def mapping(kind: str, source: str, target: str) -> str:
    return f'<zeebe:{kind} source="{source}" target="{target}" />'


RESERVE_INPUTS = mapping("input", "=order.id", "order_id") + mapping(
    "input", "=order.lines", "items"
)


def chain(*tasks: str) -> bytes:
    """start -> each task in order -> end."""
    ids = ["start", *[f"t{index}" for index in range(len(tasks))], "end"]
    parts = [node("startEvent", "start"), node("endEvent", "end")]
    parts += [
        task.replace('id="TASK"', f'id="{ids[index + 1]}"') for index, task in enumerate(tasks)
    ]
    parts += [
        flow(f"f{index}", source, target)
        for index, (source, target) in enumerate(itertools.pairwise(ids))
    ]
    return process(*parts)


def found(
    content: bytes,
    handlers: HandlerRegistry = registry,
    start_variables: frozenset[str] = frozenset(),
) -> list[tuple[str, str | None]]:
    document = read_document(SourceFile.of("p.bpmn", content))
    assert isinstance(document, BpmnDocument)
    return [(f.rule, f.element_id) for f in check_code([document], handlers, start_variables)]


RESERVE = service("TASK", "stock.reserve", inputs=RESERVE_INPUTS)
SHIP = service("TASK", "orders.ship")


def test_tasks_whose_handlers_get_what_they_need_have_no_findings() -> None:
    assert found(chain(RESERVE, SHIP)) == []


def test_a_job_type_without_a_handler_is_reported() -> None:
    assert ("handler-missing", "t1") in found(chain(RESERVE, service("TASK", "orders.shipp")))


def test_a_required_input_nobody_sets_is_reported_and_a_mapping_fixes_it() -> None:
    unmapped = service("TASK", "stock.reserve")

    assert found(chain(unmapped, SHIP)) == [("handler-input-unset", "t0")]
    assert found(chain(RESERVE, SHIP)) == []


def test_an_input_set_by_an_earlier_handlers_typed_result_counts() -> None:
    # orders.ship needs reservation_id, which stock.reserve's Reservation returns
    assert found(chain(SHIP)) == [
        ("handler-input-unset", "t0"),
        ("handler-unused", "stock.reserve"),
    ]
    assert found(chain(RESERVE, SHIP)) == []


def test_start_variables_from_configuration_count_as_set() -> None:
    unmapped = service("TASK", "stock.reserve")

    assert found(chain(unmapped, SHIP), start_variables=frozenset({"order_id", "items"})) == []


def test_a_step_with_unknowable_writes_silences_the_input_rule_after_it() -> None:
    form = node("userTask", "TASK")

    assert found(chain(RESERVE, form, service("TASK", "orders.ship"))) == []
    assert found(chain(form, service("TASK", "stock.reserve"), SHIP)) == []


def test_an_output_mapping_reading_a_field_the_handler_does_not_return_is_reported() -> None:
    wrong = service("TASK", "orders.ship", outputs=mapping("output", "=tracking", "tracking"))
    right = service(
        "TASK", "orders.ship", outputs=mapping("output", "=tracking_number", "tracking")
    )

    assert found(chain(RESERVE, wrong)) == [("handler-output-unknown", "t1")]
    assert found(chain(RESERVE, right)) == []


def test_a_handler_no_task_uses_is_reported_at_its_source_line() -> None:
    document = read_document(SourceFile.of("p.bpmn", chain(RESERVE)))
    assert isinstance(document, BpmnDocument)

    [unused] = check_code([document], registry, frozenset())

    assert unused.rule == "handler-unused"
    assert unused.element_id == "orders.ship"
    assert unused.file is not None and unused.file.endswith("shop_handlers.py")
    assert unused.line is not None and unused.line > 1


def test_a_sub_process_passes_on_what_its_steps_write() -> None:
    inner = (
        node("startEvent", "inner_start")
        + flow("fi", "inner_start", "inner_reserve")
        + RESERVE.replace('id="TASK"', 'id="inner_reserve"')
        + flow("fj", "inner_reserve", "inner_end")
        + node("endEvent", "inner_end")
    )
    sub = node("subProcess", "TASK", inner=inner)

    assert found(chain(sub, SHIP)) == []


def test_a_step_inside_a_sub_process_sees_what_came_before_the_sub_process() -> None:
    inner = (
        node("startEvent", "inner_start")
        + flow("fi", "inner_start", "inner_ship")
        + SHIP.replace('id="TASK"', 'id="inner_ship"')
        + flow("fj", "inner_ship", "inner_end")
        + node("endEvent", "inner_end")
    )

    assert found(chain(RESERVE, node("subProcess", "TASK", inner=inner))) == []
    assert ("handler-input-unset", "inner_ship") in found(
        chain(node("subProcess", "TASK", inner=inner))
    )


def test_a_timer_boundary_path_does_not_see_the_interrupted_tasks_results() -> None:
    content = process(
        node("startEvent", "start"),
        flow("f0", "start", "reserve"),
        RESERVE.replace('id="TASK"', 'id="reserve"'),
        flow("f1", "reserve", "end"),
        node("endEvent", "end"),
        node(
            "boundaryEvent",
            "late",
            attrs='attachedToRef="reserve"',
            inner='<bpmn:timerEventDefinition id="t"><bpmn:timeDuration>PT1H'
            "</bpmn:timeDuration></bpmn:timerEventDefinition>",
        ),
        flow("f2", "late", "ship"),
        SHIP.replace('id="TASK"', 'id="ship"'),
        flow("f3", "ship", "late_end"),
        node("endEvent", "late_end"),
    )

    assert found(content) == [("handler-input-unset", "ship")]


def test_the_shipped_order_process_agrees_with_the_retail_handlers() -> None:
    report = validate([str(PROCESSES)], handlers=retail_handlers(Backoffice()))

    assert report.diagnostics == []


def test_a_multi_instance_task_may_write_its_output_collection_so_later_steps_are_trusted() -> None:
    loop = (
        "<bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements>"
        '<zeebe:loopCharacteristics inputCollection="=orders" inputElement="order" '
        'outputCollection="reservation_id" outputElement="=reservation" />'
        "</bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>"
    )
    once = service(
        "TASK",
        "stock.reserve",
        inputs=RESERVE_INPUTS,
        outputs=mapping("output", "=reservation_id", "reservation"),
    )
    each = once.replace("</bpmn:serviceTask>", f"{loop}</bpmn:serviceTask>")

    assert found(chain(once, SHIP)) == [("handler-input-unset", "t1")]
    assert found(chain(each, SHIP)) == []


def message_throw_job(task_id: str, job_type: str) -> str:
    """A Camunda 8 message throw event that is a job (Modeler's default for a message throw)."""
    return node(
        "intermediateThrowEvent",
        task_id,
        inner=(
            f'<bpmn:extensionElements><zeebe:taskDefinition type="{job_type}" />'
            f'</bpmn:extensionElements><bpmn:messageEventDefinition id="{task_id}_message" />'
        ),
    )


def test_a_message_throw_event_with_a_job_type_is_checked_against_the_handlers() -> None:
    assert ("handler-missing", "t1") in found(
        chain(RESERVE, message_throw_job("TASK", "orders.shipp"))
    )
    assert found(chain(RESERVE, message_throw_job("TASK", "orders.ship"))) == []


def test_a_job_type_written_as_an_expression_is_left_to_run_time() -> None:
    # Its type is known only when the job is created; a missing handler is an incident then.
    dynamic = service("TASK", "=&quot;orders.&quot; + next_step")

    assert found(chain(RESERVE, SHIP, dynamic)) == []


def test_an_output_mapping_may_read_the_tasks_own_input_mappings() -> None:
    outputs = mapping("output", "=tracking_number", "tracking") + mapping(
        "output", "=carrier", "shipped_with"
    )
    ship = service(
        "TASK",
        "orders.ship",
        inputs=mapping("input", "=&quot;dhl&quot;", "carrier"),
        outputs=outputs,
    )

    assert found(chain(RESERVE, ship)) == []


def test_a_message_catch_with_output_mappings_sets_only_their_targets_for_later_handlers() -> None:
    def caught(target: str) -> str:
        return node(
            "intermediateCatchEvent",
            "TASK",
            inner=(
                "<bpmn:extensionElements><zeebe:ioMapping>"
                f'<zeebe:output source="=reservation.id" target="{target}" />'
                "</zeebe:ioMapping></bpmn:extensionElements>"
                '<bpmn:messageEventDefinition id="m" messageRef="Message_1" />'
            ),
        )

    assert found(chain(caught("reservation_id"), SHIP)) == [("handler-unused", "stock.reserve")]
    assert found(chain(caught("reservation"), SHIP)) == [
        ("handler-input-unset", "t1"),
        ("handler-unused", "stock.reserve"),
    ]


def test_a_message_throw_job_writes_what_its_handler_returns_not_anything() -> None:
    # orders.ship returns a tracking number only: stock.reserve after it still lacks inputs.
    assert found(
        chain(message_throw_job("TASK", "orders.ship"), service("TASK", "stock.reserve"))
    ) == [("handler-input-unset", "t0"), ("handler-input-unset", "t1")]


def test_a_link_catch_sees_what_was_set_before_its_link_throw() -> None:
    link = '<bpmn:linkEventDefinition name="to_shipping" />'
    linked = process(
        node("startEvent", "start"),
        service("reserve", "stock.reserve", inputs=RESERVE_INPUTS),
        node("intermediateThrowEvent", "go_to_shipping", inner=link),
        node("intermediateCatchEvent", "shipping", inner=link),
        service("ship", "orders.ship"),
        node("endEvent", "end"),
        flow("f1", "start", "reserve"),
        flow("f2", "reserve", "go_to_shipping"),
        flow("f3", "shipping", "ship"),
        flow("f4", "ship", "end"),
    )
    assert found(linked) == []


def test_a_compensation_handler_sees_what_was_set_before_the_compensation_throw() -> None:
    compensation = "<bpmn:compensateEventDefinition />"
    trip = process(
        node("startEvent", "start"),
        service("reserve", "stock.reserve", inputs=RESERVE_INPUTS),
        node("boundaryEvent", "undo_reserve", attrs='attachedToRef="reserve"', inner=compensation),
        service("ship", "orders.ship").replace(
            "<bpmn:serviceTask ", '<bpmn:serviceTask isForCompensation="true" '
        ),
        node("endEvent", "undo", inner=compensation),
        flow("f1", "start", "reserve"),
        flow("f2", "reserve", "undo"),
        '    <bpmn:association id="a1" sourceRef="undo_reserve" targetRef="ship" />\n',
    )
    assert found(trip) == []


def templated(version: int | str) -> str:
    """The shipping task as Modeler writes it once the handler's element template is applied."""
    return node(
        "serviceTask",
        "TASK",
        attrs=(
            'zeebe:modelerTemplate="retailflow.orders.ship" '
            f'zeebe:modelerTemplateVersion="{version}"'
        ),
        inner=(
            '<bpmn:extensionElements><zeebe:taskDefinition type="orders.ship" />'
            "</bpmn:extensionElements>"
        ),
    )


def test_a_task_with_an_older_template_version_than_its_handler_is_reported() -> None:
    current = template_version(registry.get("orders.ship"))  # type: ignore[arg-type]

    assert ("template-outdated", "t0") in found(chain(templated(current - 1)))
    assert ("template-outdated", "t0") not in found(chain(templated(current)))
    assert ("template-outdated", "t0") not in found(chain(SHIP))
