"""Values as people type them into the cockpit and clients send them to its API.

One reading for each, shared by the pages and the REST API, so a value means the same
wherever it is entered: a typed value is JSON when it parses, else the text itself; a search
compares one JSON scalar or text; variables are the codec's JSON form, tags and all
(``{"$date": "2026-12-08"}``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from retailflow.model import RetailflowError, VariableMatch, VariableTypeError
from retailflow.model.variables import decode_variables


def json_or_text(text: str) -> Any:
    """What a person typed as a value: JSON when it parses (``42``, ``true``, ``{"a": 1}``,
    ``"quoted"``), else the text itself, since a value typed into a box is most often just
    text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def search_value(text: str) -> VariableMatch:
    """A variable's value to search for: a JSON scalar as written (``5``, ``true``,
    ``"SO-1"``), else the text itself. A list or object is refused: a search compares one
    value, and silently searching for its text would find nothing."""
    value = json_or_text(text)
    if not isinstance(value, str | int | float | bool):
        raise RetailflowError(f"value {text!r}: a search compares one string, number or boolean")
    return value


def variables_from_json(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Variables as a request sent them (the codec's JSON form), in their own types; a
    malformed tag (``{"$date": "soon"}``) is the sender's mistake, a 422."""
    try:
        return decode_variables(raw)
    except RecursionError as error:
        raise VariableTypeError(
            f"{where}: variables nest too deeply to read; flatten them", path=""
        ) from error
    except (ValueError, TypeError, ArithmeticError) as error:
        raise VariableTypeError(
            f"{where}: a tagged value does not read as its type ({error}); "
            'see docs/api.md, "Variable types"',
            path="",
        ) from error


def variables_from_text(text: str, where: str) -> dict[str, Any]:
    """Variables typed into a form as a JSON object (read like the API's), or ``{}`` for an
    empty box."""
    if not text.strip():
        return {}
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise RetailflowError(f"{where}: variables must be a JSON object: {error}") from None
    if not isinstance(raw, dict):
        raise RetailflowError(f'{where}: variables must be a JSON object such as {{"paid": true}}')
    return variables_from_json(raw, where)
