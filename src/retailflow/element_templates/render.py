"""One element template JSON per handler, in the shape Camunda Modeler reads for each engine.

Camunda 8 templates bind to ``zeebe:taskDefinition`` (type, retries), ``zeebe:input``,
``zeebe:output`` and ``zeebe:taskHeader``; Camunda 7 templates set ``camunda:type="external"``
and ``camunda:topic`` and bind ``camunda:inputParameter`` / ``camunda:outputParameter``. The
``$schema`` URL is how Modeler tells the two apart, so both kinds can share one folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import orjson

from retailflow.element_templates.fields import TemplateField, handler_fields, template_version
from retailflow.handlers import RegisteredHandler
from retailflow.handlers.binding import describe_function

Target = Literal["c8", "c7"]

SCHEMAS: dict[Target, str] = {
    "c8": "https://unpkg.com/@camunda/zeebe-element-templates-json-schema/resources/schema.json",
    "c7": "https://unpkg.com/@camunda/element-templates-json-schema/resources/schema.json",
}
"""The schema URLs Modeler recognises; the tests validate against vendored copies."""

_INPUTS_GROUP = {"id": "inputs", "label": "Inputs"}
_OUTPUTS_GROUP = {"id": "outputs", "label": "Outputs"}
_TASK_GROUP = {"id": "task", "label": "Task"}


def template_id(topic: str) -> str:
    """The template id for a topic; ``retailflow validate`` matches applied templates by it."""
    return f"retailflow.{topic}"


def element_template(handler: RegisteredHandler, target: Target) -> dict[str, Any]:
    """The element template of one handler for Camunda 8 (``"c8"``) or Camunda 7 (``"c7"``)."""
    fields = handler_fields(handler)
    outputs = sorted(handler.output_fields or ())
    properties = (
        _task_properties(handler, target)
        + [_input(field, target) for field in fields]
        + [_output(name, target) for name in outputs]
    )
    groups = (
        [_TASK_GROUP] + ([_INPUTS_GROUP] if fields else []) + ([_OUTPUTS_GROUP] if outputs else [])
    )
    template: dict[str, Any] = {
        "$schema": SCHEMAS[target],
        "name": _title(handler.topic),
        "id": template_id(handler.topic),
        "version": template_version(handler),
        "description": _summary(handler),
        "appliesTo": ["bpmn:ServiceTask"],
        "groups": groups,
        "properties": properties,
    }
    if target == "c8":
        template["elementType"] = {"value": "bpmn:ServiceTask"}
    return template


def write_templates(
    handlers: Iterable[RegisteredHandler], target: Target, directory: Path
) -> list[Path]:
    """Write ``<template id>.<target>.json`` per handler into ``directory`` (created if
    needed); the target in the name lets Camunda 8 and Camunda 7 templates share a folder."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for handler in handlers:
        path = directory / f"{template_id(handler.topic)}.{target}.json"
        path.write_bytes(render_json(element_template(handler, target)))
        written.append(path)
    return written


def render_json(template: dict[str, Any]) -> bytes:
    """The file content: indented, keys in a fixed order, so regenerated files diff cleanly."""
    return orjson.dumps(template, option=orjson.OPT_INDENT_2) + b"\n"


def _task_properties(handler: RegisteredHandler, target: Target) -> list[dict[str, Any]]:
    handler_header = {"type": "Hidden", "value": describe_function(handler.function)}
    if target == "c8":
        properties: list[dict[str, Any]] = [
            {
                "type": "Hidden",
                "value": handler.topic,
                "binding": {"type": "zeebe:taskDefinition", "property": "type"},
            },
        ]
        if handler.retries is not None:
            properties.append(
                {
                    "label": "Retries",
                    "group": "task",
                    "type": "String",
                    "value": str(handler.retries),
                    "description": "Runs of the handler before an incident opens.",
                    "binding": {"type": "zeebe:taskDefinition", "property": "retries"},
                }
            )
        properties.append(
            handler_header | {"binding": {"type": "zeebe:taskHeader", "key": "handler"}}
        )
        return properties
    return [
        {
            "type": "Hidden",
            "value": "external",
            "binding": {"type": "property", "name": "camunda:type"},
        },
        {
            "type": "Hidden",
            "value": handler.topic,
            "binding": {"type": "property", "name": "camunda:topic"},
        },
        handler_header | {"binding": {"type": "camunda:property", "name": "handler"}},
    ]


def _input(field: TemplateField, target: Target) -> dict[str, Any]:
    prop: dict[str, Any] = {"label": field.name, "group": "inputs"}
    if field.description:
        prop["description"] = field.description
    if target == "c8":
        prop["binding"] = {"type": "zeebe:input", "name": field.name}
    else:
        prop["binding"] = {"type": "camunda:inputParameter", "name": field.name}
    prop |= _control(field, target)
    if field.required:
        prop["constraints"] = {"notEmpty": True}
        if prop["type"] == "String" and "value" not in prop:
            # The parameter's name is the variable it reads: pass that variable on unless the
            # analyst maps something else.
            prop["value"] = f"={field.name}" if target == "c8" else f"${{{field.name}}}"
    elif target == "c8":
        prop["optional"] = True  # left empty, Modeler writes no mapping: the default applies
    return prop


def _control(field: TemplateField, target: Target) -> dict[str, Any]:
    """The input's type and value; C7 templates have no Number control and take text."""
    control: dict[str, Any]
    if field.kind == "Dropdown":
        control = {
            "type": "Dropdown",
            "choices": [{"name": choice, "value": choice} for choice in field.choices],
        }
        if field.default is not None:
            control["value"] = str(field.default)
        return control
    if field.kind == "Boolean" and target == "c8":
        control = {"type": "Boolean"}
        if isinstance(field.default, bool):
            control["value"] = field.default
        return control
    if field.kind == "Number" and target == "c8":
        control = {"type": "Number"}
        if isinstance(field.default, int | float) and not isinstance(field.default, bool):
            control["value"] = field.default
        return control
    control = {"type": "String"}
    if target == "c8":
        control["feel"] = "required" if field.kind == "Expression" else "optional"
    if field.default is not None:
        control["value"] = (
            str(field.default).lower() if isinstance(field.default, bool) else str(field.default)
        )
    return control


def _output(name: str, target: Target) -> dict[str, Any]:
    binding = (
        {"type": "zeebe:output", "source": f"={name}"}
        if target == "c8"
        else {"type": "camunda:outputParameter", "source": f"${{{name}}}"}
    )
    return {
        "label": f"Result variable for '{name}'",
        "group": "outputs",
        "type": "String",
        "value": name,
        "description": f"The process variable that receives '{name}'.",
        "binding": binding,
    }


def _title(topic: str) -> str:
    area, _, action = topic.rpartition(".")
    words = action.replace("_", " ").capitalize()
    return f"{area.replace('.', ' ').replace('_', ' ').title()}: {words}" if area else words


def _summary(handler: RegisteredHandler) -> str:
    doc = (handler.function.__doc__ or "").strip()
    first = " ".join(doc.split("\n\n")[0].split())
    return first or f"Runs handler '{handler.topic}'."
