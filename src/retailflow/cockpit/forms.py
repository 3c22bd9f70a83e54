"""The form a person fills in to complete a user task, as the analyst designed it in Modeler.

Camunda 8 files embed a Camunda (form-js) form as JSON in ``zeebe:userTaskForm``, linked from the
task by ``zeebe:formDefinition formKey="camunda-forms:bpmn:<id>"``; Camunda 7 files list
``camunda:formField`` elements in ``camunda:formData``. A task with neither (or whose form lives
in a file outside the deployment, ``formId``) gets one field per variable it sees, edited as
JSON. Submitted text is turned back into the variable types the form declares.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lxml import etree

from retailflow.bpmn import BpmnDocument, SourceFile, read_document
from retailflow.bpmn.namespaces import BPMN, CAMUNDA, ZEEBE
from retailflow.model import Resource, UserTask
from retailflow.model.errors import RetailflowError

_EMBEDDED = "camunda-forms:bpmn:"
_FORM_JS_KINDS = {
    "textfield": "text",
    "textarea": "textarea",
    "number": "number",
    "checkbox": "checkbox",
    "checklist": "text",
    "select": "select",
    "radio": "radio",
    "datetime": "text",
    "text": "paragraph",
}
_C7_KINDS = {"boolean": "checkbox", "long": "number", "enum": "select", "date": "text"}


@dataclass(frozen=True, slots=True)
class FormField:
    """One field: ``kind`` is ``text``, ``textarea``, ``number``, ``checkbox``, ``select``,
    ``radio``, ``json`` (a variable edited as JSON) or ``paragraph`` (text to read, no input);
    ``options`` are ``(value, label)`` pairs of a select or radio group."""

    key: str
    label: str
    kind: str
    required: bool = False
    options: tuple[tuple[str, str], ...] = ()
    value: Any = None


@dataclass(frozen=True, slots=True)
class TaskForm:
    """A task's form and where it came from: ``camunda-form``, ``camunda-7-form-data`` or
    ``variables``."""

    fields: tuple[FormField, ...]
    source: str


def task_form(resource: Resource, task: UserTask) -> TaskForm:
    """The form of ``task`` as drawn in ``resource`` (the file of its process), with the
    task's variables as the fields' current values."""
    fields = _designed_fields(
        resource.name, resource.content_hash, resource.content, task.element_id, task.form_key
    )
    if fields is not None:
        source, designed = fields
        filled = tuple(_filled(field, task.variables) for field in designed)
        return TaskForm(filled, source)
    return TaskForm(
        tuple(
            FormField(name, name, "json", value=json.dumps(value, default=str))
            for name, value in sorted(task.variables.items())
        ),
        "variables",
    )


def submitted_variables(form: TaskForm, values: Mapping[str, str]) -> dict[str, Any]:
    """The variables a submitted form sets, typed as its fields declare; an unchecked checkbox
    is ``False``. Raises ``RetailflowError`` naming the field that does not parse."""
    variables: dict[str, Any] = {}
    for field in form.fields:
        if field.kind == "paragraph":
            continue
        text = values.get(field.key)
        if field.kind == "checkbox":
            variables[field.key] = text is not None and text not in ("", "false", "off")
            continue
        if text is None or text == "":
            if field.required:
                raise RetailflowError(f"'{field.label}' is required")
            continue
        variables[field.key] = _parsed(field, text)
    return variables


def _parsed(field: FormField, text: str) -> Any:
    if field.kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise RetailflowError(f"'{field.label}' must be a number, got {text!r}") from None
        return int(number) if number.is_integer() and "." not in text else number
    if field.kind == "json":
        return json_or_text(text)
    return text


def json_or_text(text: str) -> Any:
    """What a person typed as a value: JSON when it parses (``42``, ``true``, ``{"a": 1}``,
    ``"quoted"``), else the text itself, since a value typed into a box is most often just
    text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _filled(field: FormField, variables: Mapping[str, Any]) -> FormField:
    if field.key not in variables:
        return field
    return FormField(
        field.key, field.label, field.kind, field.required, field.options, variables[field.key]
    )


@lru_cache(maxsize=128)
def _designed_fields(
    name: str, content_hash: str, content: bytes, element_id: str, form_key: str | None
) -> tuple[str, tuple[FormField, ...]] | None:
    document = read_document(SourceFile(name, content, content_hash, "bpmn"))
    if not isinstance(document, BpmnDocument):
        return None
    element = next(
        (e for e in document.root.iter(f"{{{BPMN}}}userTask") if e.get("id") == element_id),
        None,
    )
    if element is None:
        return None
    form_data = element.find(f"{{{BPMN}}}extensionElements/{{{CAMUNDA}}}formData")
    if form_data is not None:
        return "camunda-7-form-data", tuple(_c7_fields(form_data))
    key = form_key or ""
    if not key.startswith(_EMBEDDED):
        return None
    form_id = key.removeprefix(_EMBEDDED)
    embedded = next(
        (e for e in document.root.iter(f"{{{ZEEBE}}}userTaskForm") if e.get("id") == form_id),
        None,
    )
    if embedded is None or not (embedded.text or "").strip():
        return None
    try:
        schema = json.loads(embedded.text or "")
    except ValueError as error:
        raise RetailflowError(
            f"{name}: the form '{form_id}' of user task '{element_id}' is not valid JSON "
            f"({error}); save it again from Modeler's form editor"
        ) from None
    return "camunda-form", tuple(_form_js_fields(schema.get("components", [])))


def _form_js_fields(components: list[dict[str, Any]]) -> Iterator[FormField]:
    """Fields of a form-js schema, groups and dynamic lists flattened in order."""
    for component in components:
        kind = _FORM_JS_KINDS.get(component.get("type", ""))
        if component.get("components"):
            yield from _form_js_fields(component["components"])
        elif kind == "paragraph":
            yield FormField(component.get("id", ""), component.get("text", ""), kind)
        elif kind is not None and component.get("key"):
            options = tuple(
                (str(option.get("value", "")), str(option.get("label", option.get("value", ""))))
                for option in component.get("values", [])
            )
            yield FormField(
                component["key"],
                component.get("label") or component["key"],
                kind,
                bool(component.get("validate", {}).get("required")),
                options,
                component.get("defaultValue"),
            )


def _c7_fields(form_data: etree._Element) -> Iterator[FormField]:
    for field in form_data.iterchildren(f"{{{CAMUNDA}}}formField"):
        key = field.get("id", "")
        options = tuple(
            (value.get("id", ""), value.get("name") or value.get("id") or "")
            for value in field.iterchildren(f"{{{CAMUNDA}}}value")
        )
        required = any(
            constraint.get("name") == "required"
            for constraint in field.iter(f"{{{CAMUNDA}}}constraint")
        )
        yield FormField(
            key,
            field.get("label") or key,
            _C7_KINDS.get(field.get("type", "string"), "text"),
            required,
            options,
            field.get("defaultValue"),
        )
