"""What a handler reads, as template inputs: one field per parameter or pydantic model field.

The types decide the Modeler control: ``str`` a text box, numbers a number box, ``bool`` a
checkbox, a ``Literal`` or an ``Enum`` a dropdown; anything else (lists, nested models) takes an
expression, since no control can type it.
"""

from __future__ import annotations

import enum
import hashlib
import inspect
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import orjson
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from retailflow.handlers import HandlerContext, RegisteredHandler

FieldKind = Literal["String", "Number", "Boolean", "Dropdown", "Expression"]


@dataclass(frozen=True, slots=True)
class TemplateField:
    """One variable a handler reads: its name, control, help text and constraints.

    ``default`` is ``None`` when the field has none (a field whose default is ``None`` shows no
    value either); ``choices`` lists a dropdown's values.
    """

    name: str
    kind: FieldKind
    description: str | None = None
    required: bool = False
    default: str | int | float | bool | None = None
    choices: tuple[str, ...] = ()


def handler_fields(handler: RegisteredHandler) -> list[TemplateField]:
    """The template inputs of ``handler``: its plain parameters, then its model's fields."""
    found: list[TemplateField] = []
    for parameter in handler.signature.parameters.values():
        annotation = parameter.annotation
        if parameter.kind is parameter.VAR_KEYWORD or _is_class(annotation, HandlerContext):
            continue
        if _is_class(annotation, BaseModel):
            found.extend(_model_fields(annotation))
            continue
        required = parameter.default is parameter.empty
        found.append(
            _field(
                parameter.name, annotation, None, required, None if required else parameter.default
            )
        )
    return found


def template_version(handler: RegisteredHandler) -> int:
    """A version that changes whenever the handler's signature does.

    The first 28 bits of a SHA-256 over what the template is made of (topic, inputs with their
    types, requiredness, defaults and choices, outputs, retries), so regenerating an unchanged
    handler gives the same number on every machine, and any change to what it reads or writes
    gives a new one. Descriptions are left out: rewording a docstring is no new version.
    """
    described = {
        "topic": handler.topic,
        "inputs": [
            [f.name, f.kind, f.required, f.default, list(f.choices)]
            for f in handler_fields(handler)
        ],
        "outputs": sorted(handler.output_fields or ()),
        "retries": handler.retries,
    }
    digest = hashlib.sha256(orjson.dumps(described, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return int(digest[:7], 16)


def _model_fields(model: type[BaseModel]) -> list[TemplateField]:
    found = []
    for name, info in model.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        default = None if info.default is PydanticUndefined else info.default
        found.append(
            _field(alias or name, info.annotation, info.description, info.is_required(), default)
        )
    return found


def _field(
    name: str, annotation: Any, description: str | None, required: bool, default: Any
) -> TemplateField:
    annotation = _without_none(annotation)
    choices = _choices(annotation)
    kind: FieldKind
    if choices:
        kind = "Dropdown"
    elif _is_class(annotation, bool):
        kind = "Boolean"
    elif _is_class(annotation, int | float | Decimal):
        kind = "Number"
    elif annotation is inspect.Parameter.empty or _is_class(annotation, str):
        kind = "String"
    else:
        kind = "Expression"
    return TemplateField(name, kind, description, required, _shown_default(default), choices)


def _without_none(annotation: Any) -> Any:
    """``X | None`` is ``X`` to a form: an empty box already means no value."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _choices(annotation: Any) -> tuple[str, ...]:
    if typing.get_origin(annotation) is Literal:
        return tuple(str(value) for value in typing.get_args(annotation))
    if _is_class(annotation, enum.Enum):
        return tuple(str(member.value) for member in annotation)
    return ()


def _shown_default(default: Any) -> str | int | float | bool | None:
    if isinstance(default, enum.Enum):
        default = default.value
    if isinstance(default, bool | int | float | str):
        return default
    if isinstance(default, Decimal):
        return float(default)
    return None  # None, or a list, dict or model: no control shows it


def _is_class(annotation: Any, kind: type | types.UnionType) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, kind)
