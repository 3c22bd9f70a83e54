"""Service-task handlers: plain functions whose parameters are the variables they read.

``HandlerRegistry`` maps topics to functions, ``RegisteredHandler`` binds variables to a function
and its result back to variables, ``HandlerContext`` tells a handler which job it runs,
``HandlerLoop`` is the event loop async handlers run on,
``BpmnError`` takes the process down a modelled error path, ``RetryPolicy`` spaces retries, and
``import_registry`` finds an application's registry from ``module:attribute``.
"""

from __future__ import annotations

from retailflow.handlers.binding import RegisteredHandler
from retailflow.handlers.context import HandlerContext
from retailflow.handlers.handler_loop import HandlerLoop
from retailflow.handlers.importing import import_registry
from retailflow.handlers.registry import HandlerRegistry
from retailflow.handlers.retry import RetryPolicy
from retailflow.model.errors import BpmnError, RegistryImportError

__all__ = [
    "BpmnError",
    "HandlerContext",
    "HandlerLoop",
    "HandlerRegistry",
    "RegisteredHandler",
    "RegistryImportError",
    "RetryPolicy",
    "import_registry",
]
