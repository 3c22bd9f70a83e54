"""Handler mocks: canned results, BPMN errors and technical failures per task type, with every
call recorded with the inputs it received.

``HandlerMocks`` is a ``HandlerRegistry``, so the engine runs mocks exactly as it runs real
handlers (input mappings, output mappings, retries, incidents). A task type nobody mocked does
not fail silently or retry: its job becomes an incident at once, whose message says which
``mock(...)`` call is missing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from retailflow.handlers import BpmnError, HandlerContext, HandlerRegistry
from retailflow.handlers.binding import RegisteredHandler
from retailflow.model import RetailflowError


@dataclass(frozen=True, slots=True)
class HandlerCall:
    """One call of a mocked handler: the variables it received (after input mappings) and its
    job's context (element id, attempt, headers, idempotency key)."""

    topic: str
    inputs: dict[str, Any]
    context: HandlerContext


class MockedTopic:
    """What one task type does when its job runs, in this order: the failures still owed
    (``fail``), then the BPMN error (``raise_bpmn_error``), else the result (``returns``)."""

    def __init__(self, topic: str, journal: list[HandlerCall]) -> None:
        self.topic = topic
        self.calls: list[HandlerCall] = []
        self._journal = journal
        self._result: Mapping[str, Any] | Callable[[dict[str, Any]], Any] | None = None
        self._error: BpmnError | None = None
        self._failures: list[Exception] = []

    def returns(
        self, result: Mapping[str, Any] | Callable[[dict[str, Any]], Any] | None
    ) -> MockedTopic:
        """Write ``result`` to the process; a callable gets the inputs and returns the result."""
        self._result = result
        self._error = None
        return self

    def raise_bpmn_error(
        self, code: str, message: str = "", variables: Mapping[str, Any] | None = None
    ) -> MockedTopic:
        """Take the modelled error path (the boundary event or event subprocess for ``code``)."""
        self._error = BpmnError(code, message, dict(variables or {}))
        return self

    def fail(self, times: int = 1, error: Exception | None = None) -> MockedTopic:
        """Fail the next ``times`` calls with a technical error, which the engine retries with
        backoff and turns into an incident when the retries run out."""
        # A fresh exception per failure: raising one object again grows its traceback.
        self._failures.extend(
            copy.copy(error)
            if error is not None
            else ConnectionError(f"{self.topic} failed (mocked failure)")
            for _ in range(times)
        )
        return self

    @property
    def call_count(self) -> int:
        return len(self.calls)

    @property
    def last_inputs(self) -> dict[str, Any]:
        """The inputs of the latest call; an ``AssertionError`` if it was never called."""
        if not self.calls:
            raise AssertionError(f"handler '{self.topic}' was never called")
        return self.calls[-1].inputs

    def __call__(self, context: HandlerContext, **inputs: Any) -> Any:
        call = HandlerCall(self.topic, dict(inputs), context)
        self.calls.append(call)
        self._journal.append(call)
        if self._failures:
            raise self._failures.pop(0)
        if self._error is not None:
            raise self._error
        if callable(self._result):
            return self._result(dict(inputs))
        return None if self._result is None else dict(self._result)


class HandlerMocks(HandlerRegistry):
    """The ``rf_handlers`` fixture: ``mock("payment.capture", returns={"captured": True})``."""

    def __init__(self) -> None:
        super().__init__()
        self._mocks: dict[str, MockedTopic] = {}
        self._unmocked: dict[str, RegisteredHandler] = {}
        self._journal: list[HandlerCall] = []

    def mock(
        self, topic: str, returns: Mapping[str, Any] | Callable[[dict[str, Any]], Any] | None = None
    ) -> MockedTopic:
        """The mock of ``topic``, created on first use; ``returns`` sets its result."""
        mocked = self._mocks.get(topic)
        if mocked is None:
            if topic in self:
                raise RetailflowError(
                    f"task type '{topic}' already has a real handler here; "
                    "mock it instead of including its handler, or not at all"
                )
            mocked = self._mocks[topic] = MockedTopic(topic, self._journal)
            self.register(topic, mocked)
        if returns is not None:
            mocked.returns(returns)
        return mocked

    def calls(self, topic: str | None = None) -> list[HandlerCall]:
        """Every mocked call, in the order they ran; of one task type when ``topic`` is given."""
        return [call for call in self._journal if topic is None or call.topic == topic]

    def get(self, topic: str) -> RegisteredHandler | None:
        handler = super().get(topic)
        if handler is not None:
            return handler
        unmocked = self._unmocked.get(topic)
        if unmocked is None:
            unmocked = self._unmocked[topic] = RegisteredHandler(topic, _refusal(topic))
        return unmocked

    def __getitem__(self, topic: str) -> MockedTopic:
        try:
            return self._mocks[topic]
        except KeyError:
            raise KeyError(
                f"task type '{topic}' is not mocked (mocked: {', '.join(self._mocks) or 'none'})"
            ) from None


def _refusal(topic: str) -> Callable[..., Any]:
    """The handler of a task type nobody mocked: an incident at once (a ``RetailflowError`` is
    never retried), naming the call that is missing."""

    def unmocked(**_: Any) -> None:
        raise RetailflowError(
            f"no mock for task type '{topic}': add "
            f"rf_handlers.mock({topic!r}, returns={{...}}) to the test"
        )

    return unmocked
