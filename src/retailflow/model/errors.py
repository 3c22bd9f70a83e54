"""retailflow's exceptions: each says what failed, where, and what to do about it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retailflow.model.finding import Finding


class RetailflowError(Exception):
    """Base of every error retailflow raises; nothing from SpiffWorkflow escapes past it."""


class DeploymentError(RetailflowError):
    """A deployment was refused; ``findings`` lists every problem, nothing was deployed."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        lines = "\n".join(f"  {finding}" for finding in self.findings)
        super().__init__(f"deployment refused, nothing was deployed ({len(self.findings)} "
                         f"finding(s)):\n{lines}")


class ExpressionError(RetailflowError):
    """An expression or script did not parse, was refused by the sandbox, or failed."""

    def __init__(self, message: str, *, expression: str | None = None,
                 element_id: str | None = None) -> None:
        self.expression = expression
        self.element_id = element_id
        where = f" in element '{element_id}'" if element_id else ""
        shown = f": {expression!r}" if expression is not None else ""
        super().__init__(f"{message}{where}{shown}")


class HandlerInputError(RetailflowError):
    """A handler's inputs failed validation; retrying cannot help, so it becomes an incident."""


class NotFoundError(RetailflowError):
    """An instance, task, job or process id does not exist."""


class ConcurrentUpdateError(RetailflowError):
    """Another transaction changed the instance since it was read; re-read and try again."""


class StoreUnavailableError(RetailflowError):
    """The database could not be reached, or dropped the connection mid-transaction. The
    transaction did not take effect (or, for a dropped commit, its outcome is unknown), so the
    caller may try again once the database answers; workers do so with backoff."""


class VariableTypeError(RetailflowError):
    """A value cannot be a process variable (docs/api.md, "Variable types"): its type is
    outside the variable type system, or it is too deep, too large or cyclic. ``path`` names
    the value (``order.items[3].price``); the message says what to store instead. Refused
    where it enters (start, correlate, signal, task completion, handler or script result), so
    nothing half-stored or silently changed ever reaches the store."""

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(message)
