"""A BPMN file's diagram: its model read from the file and DI, and its SVG drawing.

The coverage report and the cockpit draw with it, so what the analyst drew in Modeler is what
a test report and an operator see.
"""

from __future__ import annotations

from retailflow.diagram.model import Bounds, Element, FileModel, Layout, ProcessModel, file_model
from retailflow.diagram.overlay import PLAIN, Mark, Overlay
from retailflow.diagram.svg import draw

__all__ = [
    "PLAIN",
    "Bounds",
    "Element",
    "FileModel",
    "Layout",
    "Mark",
    "Overlay",
    "ProcessModel",
    "draw",
    "file_model",
]
