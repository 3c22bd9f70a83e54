"""Camunda element templates generated from the application's handlers.

An analyst in Camunda Modeler picks "Reserve stock" from a list instead of typing the job type
and the variable names by hand; the template is derived from the handler's signature, so it
says exactly what the code reads and writes. ``handler_fields`` describes a handler,
``element_template`` renders one template for Camunda 8 or Camunda 7, ``write_templates``
writes one file per handler.
"""

from __future__ import annotations

from retailflow.element_templates.fields import TemplateField, handler_fields, template_version
from retailflow.element_templates.render import (
    Target,
    element_template,
    template_id,
    write_templates,
)

__all__ = [
    "Target",
    "TemplateField",
    "element_template",
    "handler_fields",
    "template_id",
    "template_version",
    "write_templates",
]
