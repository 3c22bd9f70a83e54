"""Every exception retailflow raises, in one place, each saying what failed, where, and what to
do about it. Catch ``RetailflowError`` for all of them; nothing from SpiffWorkflow, SQLAlchemy or
lxml escapes past it.

    Exception
    ├── RetailflowError                 retryable: may the same call succeed if tried again?
    │   ├── DeploymentError             no     files refused; ``findings`` lists why
    │   ├── ConfigError                 no     ``[tool.retailflow.validate]`` cannot be used
    │   ├── RegistryImportError         no     ``module:attribute`` names no handler registry
    │   ├── ExpressionError             no     an expression or script failed or was refused
    │   ├── ExecutionError              no     the process could not advance at an element
    │   │   └── CalloutError            yes    a delegate's or listener's handler failed in a step
    │   ├── HandlerInputError           no     a handler's inputs failed its signature
    │   ├── HandlerTimeoutError         yes    a handler overran its ``timeout``
    │   ├── VariableTypeError           no     a value is not a variable type; ``path`` names it
    │   ├── NotFoundError               no     no such instance, task, job or process
    │   ├── InstanceEndedError          no     the instance completed or was cancelled
    │   ├── SignalDeliveryError         no     a broadcast failed for some instances
    │   ├── ConcurrentUpdateError       yes    another writer moved the instance on
    │   └── StoreUnavailableError       yes    the database cannot be reached right now
    └── BpmnError                       raised *by handlers*: a modelled business error

``retryable`` is explicit on each class (and can be set on an instance): the engine retries a
handler's failure with backoff when the error raised is retryable (any exception that is not a
``RetailflowError`` counts as a retryable technical failure), and opens an incident at once
when it is not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retailflow.model.finding import Finding
    from retailflow.model.instance import Instance


class RetailflowError(Exception):
    """Base of every error retailflow raises; nothing from SpiffWorkflow escapes past it."""

    retryable: bool = False
    """Whether trying the same call again may succeed (a class default, settable per error)."""


class DeploymentError(RetailflowError):
    """A deployment was refused; ``findings`` lists every problem, nothing was deployed."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        lines = "\n".join(f"  {finding}" for finding in self.findings)
        super().__init__(
            f"deployment refused, nothing was deployed ({len(self.findings)} finding(s)):\n{lines}"
        )


class ExpressionError(RetailflowError):
    """An expression or script did not parse, was refused by the sandbox, or failed."""

    def __init__(
        self, message: str, *, expression: str | None = None, element_id: str | None = None
    ) -> None:
        self.expression = expression
        self.element_id = element_id
        where = f" in element '{element_id}'" if element_id else ""
        shown = f": {expression!r}" if expression is not None else ""
        super().__init__(f"{message}{where}{shown}")


class HandlerInputError(RetailflowError):
    """A handler's inputs failed validation; retrying cannot help, so it becomes an incident."""


class VariableTypeError(RetailflowError):
    """A value cannot be a process variable (docs/api.md, "Variable types"): its type is
    outside the variable type system, or it is too deep, too large or cyclic. ``path`` names
    the value (``order.items[3].price``); the message says what to store instead. Refused
    where it enters (start, correlate, signal, task completion, handler or script result), so
    nothing half-stored or silently changed ever reaches the store."""

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(message)


class NotFoundError(RetailflowError):
    """An instance, task, job or process id does not exist."""


class InstanceEndedError(RetailflowError):
    """The instance has completed or was cancelled, so nothing can move it on any more (a
    handler's result arriving after an operator cancelled the instance, say)."""

    def __init__(self, instance_id: str, status: str) -> None:
        self.instance_id = instance_id
        self.status = status
        super().__init__(
            f"instance '{instance_id}' is already {status}; only a running "
            "instance can be moved on or cancelled"
        )


class ConcurrentUpdateError(RetailflowError):
    """Another transaction changed the instance since it was read; re-read and try again."""

    retryable = True


class StoreUnavailableError(RetailflowError):
    """The database could not be reached, or dropped the connection mid-transaction. The
    transaction did not take effect (or, for a dropped commit, its outcome is unknown), so the
    caller may try again once the database answers; workers do so with backoff."""

    retryable = True


class HandlerTimeoutError(RetailflowError):
    """A handler ran past the ``timeout`` it was registered with. The job fails and is retried;
    a synchronous handler's call is abandoned, not stopped, so it may still finish: the job's
    idempotency key keeps a repeated effect harmless."""

    retryable = True


class ExecutionError(RetailflowError):
    """The process could not advance (an expression failed, data was missing ...)."""

    def __init__(self, message: str, *, element_id: str | None = None) -> None:
        self.element_id = element_id
        where = f" at element '{element_id}'" if element_id else ""
        super().__init__(f"{message}{where}")


class CalloutError(ExecutionError):
    """A Camunda 7 delegate's or a listener's handler failed inside a step, so the step that
    reached it is undone, as in Camunda 7: the call that took the step fails, and a job that
    took it is retried (the handler may succeed next time), then becomes an incident."""

    retryable = True


class SignalDeliveryError(RetailflowError):
    """A broadcast reached some instances but not all; ``reached`` and ``failed`` say which."""

    def __init__(
        self, signal: str, reached: list[Instance], failed: list[tuple[str, RetailflowError]]
    ) -> None:
        self.reached = reached
        self.failed = failed
        details = "; ".join(f"{target}: {error}" for target, error in failed)
        super().__init__(
            f"signal '{signal}' reached {len(reached)} instance(s) but failed for "
            f"{len(failed)}: {details}"
        )


class RegistryImportError(RetailflowError):
    """``module:attribute`` names no usable registry; the message says why and what to write."""


class ConfigError(RetailflowError):
    """The configuration cannot be used; the message names the file, the key and the fix."""


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
