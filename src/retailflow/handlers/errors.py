"""BpmnError: how a handler tells the process about a business outcome it modelled as an error."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from retailflow.model import RetailflowError


class BpmnError(Exception):
    """Raise to take the process down its modelled error path, not to report a failure.

    Raise ``BpmnError("OUT_OF_STOCK")`` when the outcome is part of the business process: the
    diagram has an error boundary event (or an error event subprocess) that catches ``code``, and
    retrying would give the same answer. The engine triggers that catch at once, with no retries
    and no incident; ``variables`` are written to the process first, so the error path can use them.

    Raise any other exception for a *technical* failure (a timeout, a database that is down): the
    engine retries it with backoff and, when the retries run out, opens an incident so that a person
    can look and resume. A ``BpmnError`` whose code nothing in the diagram catches also becomes an
    incident, because the process has no path for it.
    """

    def __init__(
        self, code: str, message: str = "", variables: Mapping[str, Any] | None = None
    ) -> None:
        if not isinstance(code, str) or not code.strip():
            raise RetailflowError(
                f"a BpmnError needs a non-empty error code, got {code!r}: "
                "use the errorCode of the error event that should catch it"
            )
        self.code = code
        self.message = message
        # Read-only, so a handler cannot change what it reported after raising it.
        self.variables: Mapping[str, Any] = MappingProxyType(dict(variables or {}))
        super().__init__(f"BPMN error '{code}'" + (f": {message}" if message else ""))

    def __reduce__(self) -> tuple[Any, ...]:
        # Workers may hand the error across a process boundary; rebuild it from its parts, not
        # from the formatted message that ``Exception.args`` holds.
        return (type(self), (self.code, self.message, dict(self.variables)))

    def __repr__(self) -> str:
        return f"BpmnError({self.code!r}, {self.message!r}, {dict(self.variables)!r})"
