"""HandlerRegistry: which function runs the service tasks of each topic."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from retailflow.handlers.binding import RegisteredHandler, describe_function
from retailflow.model import RetailflowError

HandlerFunction = TypeVar("HandlerFunction", bound=Callable[..., Any])


class HandlerRegistry:
    """Maps each topic (the task type in the diagram) to exactly one handler.

    Register with the decorator, which returns the function unchanged so it stays an ordinary,
    unit-testable function::

        handlers = HandlerRegistry()

        @handlers.handler("inventory.reserve", retries=5)
        def reserve(request: ReserveRequest) -> ReserveResult: ...

    Each area of an application can keep its own registry; ``include`` composes them into the one
    the engine runs. A topic has one handler only, so a second registration for it is refused,
    naming the function that already holds it. ``topic in registry`` asks about topics; iterating
    yields the ``RegisteredHandler`` objects in registration order.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, RegisteredHandler] = {}

    def handler(
        self, topic: str, *, retries: int | None = None, timeout: float | None = None
    ) -> Callable[[HandlerFunction], HandlerFunction]:
        """Decorator: register the function for ``topic`` and return it unchanged.

        ``retries`` (runs, the first included) and ``timeout`` (seconds) are this handler's own
        settings; ``None`` leaves them to the diagram and the engine's defaults.
        """
        # Annotations naming types defined next to the handler (in a test function, say) resolve
        # in the scope that applies the decorator.
        namespace = sys._getframe(1).f_locals

        def decorate(function: HandlerFunction) -> HandlerFunction:
            self._add(
                RegisteredHandler(
                    topic, function, retries=retries, timeout=timeout, namespace=namespace
                )
            )
            return function

        return decorate

    def register(
        self,
        topic: str,
        function: Callable[..., Any],
        *,
        retries: int | None = None,
        timeout: float | None = None,
    ) -> RegisteredHandler:
        """Register ``function`` for ``topic`` without the decorator (a function from a library)."""
        registered = RegisteredHandler(
            topic, function, retries=retries, timeout=timeout, namespace=sys._getframe(1).f_locals
        )
        self._add(registered)
        return registered

    def include(self, other: HandlerRegistry) -> None:
        """Add every handler of ``other``, all or nothing: a clash leaves this registry unchanged.

        Including the very same registered handler twice (two registries that both include a
        shared one) is harmless; two different handlers for one topic are refused.
        """
        clashes = [
            self._clash_message(existing, incoming)
            for incoming in other
            if (existing := self._handlers.get(incoming.topic)) not in (None, incoming)
        ]
        if clashes:
            raise RetailflowError("cannot include the registry: " + "; ".join(clashes))
        for incoming in other:
            self._handlers.setdefault(incoming.topic, incoming)

    def get(self, topic: str) -> RegisteredHandler | None:
        """The handler for ``topic``, or ``None`` when no handler is registered for it."""
        return self._handlers.get(topic)

    def topics(self) -> list[str]:
        """Every registered topic, in registration order."""
        return list(self._handlers)

    def __contains__(self, topic: object) -> bool:
        return topic in self._handlers

    def __iter__(self) -> Iterator[RegisteredHandler]:
        return iter(list(self._handlers.values()))

    def __len__(self) -> int:
        return len(self._handlers)

    def __repr__(self) -> str:
        return f"<HandlerRegistry topics={self.topics()!r}>"

    def _add(self, registered: RegisteredHandler) -> None:
        existing = self._handlers.get(registered.topic)
        if existing is not None:
            raise RetailflowError(self._clash_message(existing, registered))
        self._handlers[registered.topic] = registered

    @staticmethod
    def _clash_message(existing: RegisteredHandler, incoming: RegisteredHandler) -> str:
        return (
            f"topic '{existing.topic}' is already handled by "
            f"{describe_function(existing.function)}, so "
            f"{describe_function(incoming.function)} cannot have it too; a topic runs exactly "
            "one handler: rename one topic or drop one registration"
        )
