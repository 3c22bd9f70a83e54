"""A user task's form comes from the file as Modeler saved it: Camunda 8 embedded forms,
Camunda 7 form fields, else the task's variables."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retailflow.cockpit.forms import FormField, TaskForm, submitted_variables, task_form
from retailflow.model import Resource, RetailflowError, UserTask

ROOT = Path(__file__).resolve().parents[2]


def resource(path: Path) -> Resource:
    content = path.read_bytes()
    return Resource(path.name, content, hashlib.sha256(content).hexdigest())


def user_task(element_id: str, form_key: str | None = None, **variables: object) -> UserTask:
    return UserTask(
        "task-1",
        "instance-1",
        element_id,
        None,
        datetime(2026, 11, 2, tzinfo=UTC),
        form_key=form_key,
        variables=dict(variables),
    )


def test_an_embedded_camunda_form_gives_its_fields_in_order_with_current_values() -> None:
    task = user_task("Approve_order", "camunda-forms:bpmn:ApproveForm", note="call first")
    form = task_form(resource(ROOT / "tests/cockpit/browser/order_check.bpmn"), task)
    assert form.source == "camunda-form"
    assert [(f.key, f.kind) for f in form.fields] == [
        ("Intro", "paragraph"),
        ("approved", "checkbox"),
        ("note", "text"),
        ("priority", "select"),
    ]
    assert form.fields[2].value == "call first"
    assert form.fields[3].options == (("normal", "Normal"), ("express", "Express"))


def test_camunda_7_form_data_gives_typed_fields() -> None:
    form = task_form(
        resource(ROOT / "tests/conformance/c7/extension_ids.bpmn"), user_task("Activity_1r8k3vd")
    )
    assert form == TaskForm((FormField("approved", "Approved", "checkbox"),), "camunda-7-form-data")


def test_a_form_outside_the_deployment_falls_back_to_the_variables_as_json() -> None:
    task = user_task("Activity_1wi7l0p", None, order={"id": 7}, approved=False)
    form = task_form(resource(ROOT / "tests/conformance/c8/user_task.bpmn"), task)
    assert form.source == "variables"
    assert [(f.key, f.kind, f.value) for f in form.fields] == [
        ("approved", "json", "false"),
        ("order", "json", '{"id": 7}'),
    ]


def test_submitted_values_are_typed_as_the_form_declares() -> None:
    form = TaskForm(
        (
            FormField("approved", "Approved", "checkbox"),
            FormField("count", "Count", "number"),
            FormField("price", "Price", "number"),
            FormField("order", "Order", "json"),
            FormField("note", "Note", "text"),
            FormField("intro", "Read me", "paragraph"),
        ),
        "camunda-form",
    )
    values = {"count": "3", "price": "9.50", "order": '{"id": 7}', "note": "", "intro": "x"}
    assert submitted_variables(form, values) == {
        "approved": False,
        "count": 3,
        "price": 9.5,
        "order": {"id": 7},
    }


def test_a_required_field_left_empty_or_a_bad_number_is_refused_by_its_label() -> None:
    form = TaskForm((FormField("count", "Boxes", "number", required=True),), "camunda-form")
    with pytest.raises(RetailflowError, match="'Boxes' is required"):
        submitted_variables(form, {"count": ""})
    with pytest.raises(RetailflowError, match="'Boxes' must be a number"):
        submitted_variables(form, {"count": "many"})
