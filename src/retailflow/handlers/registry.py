"""HandlerRegistry: which function runs the service tasks of each topic."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from retailflow.handlers.binding import RegisteredHandler, describe_function
from retailflow.handlers.delegates import delegate_names
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
    naming the function that already holds it. ``topic in registry`` asks about topics and
    aliases; iterating yields the ``RegisteredHandler`` objects in registration order.

    ``aliases`` are further names of the same handler, for files migrated from Camunda 7 whose
    delegates name Java classes or beans (``aliases=["com.acme.ReserveStock"]``); ``delegate``
    finds the handler of such a delegate (the matching rules are in
    ``retailflow.handlers.delegates``). An alias is a name like a topic: it is unique across
    the registry.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, RegisteredHandler] = {}
        self._aliases: dict[str, str] = {}

    def handler(
        self,
        topic: str,
        *,
        retries: int | None = None,
        timeout: float | None = None,
        aliases: Iterable[str] = (),
    ) -> Callable[[HandlerFunction], HandlerFunction]:
        """Decorator: register the function for ``topic`` and return it unchanged.

        ``retries`` (runs, the first included) and ``timeout`` (seconds) are this handler's own
        settings; ``None`` leaves them to the diagram and the engine's defaults. ``aliases``
        are further names it answers to (Camunda 7 class or bean names).
        """
        # Annotations naming types defined next to the handler (in a test function, say) resolve
        # in the scope that applies the decorator.
        namespace = sys._getframe(1).f_locals

        def decorate(function: HandlerFunction) -> HandlerFunction:
            self._add(
                RegisteredHandler(
                    topic, function, retries=retries, timeout=timeout, namespace=namespace
                ),
                aliases,
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
        aliases: Iterable[str] = (),
    ) -> RegisteredHandler:
        """Register ``function`` for ``topic`` without the decorator (a function from a library)."""
        registered = RegisteredHandler(
            topic, function, retries=retries, timeout=timeout, namespace=sys._getframe(1).f_locals
        )
        self._add(registered, aliases)
        return registered

    def include(self, other: HandlerRegistry) -> None:
        """Add every handler of ``other``, all or nothing: a clash leaves this registry unchanged.

        Including the very same registered handler twice (two registries that both include a
        shared one) is harmless; two different handlers for one topic are refused.
        """
        clashes = [
            self._clash_message(name, existing, incoming)
            for name, incoming in other._names()
            if (existing := self._registered(name)) not in (None, incoming)
        ]
        if clashes:
            raise RetailflowError("cannot include the registry: " + "; ".join(clashes))
        for incoming in other:
            self._handlers.setdefault(incoming.topic, incoming)
        for alias, topic in other._aliases.items():
            self._aliases.setdefault(alias, topic)

    def get(self, topic: str) -> RegisteredHandler | None:
        """The handler for ``topic`` (or an alias), or ``None`` when none is registered."""
        return self._registered(topic)

    def delegate(self, attribute: str, value: str) -> RegisteredHandler | None:
        """The handler of a Camunda 7 delegate ``camunda:<attribute>="<value>"`` (``class``,
        ``delegateExpression`` or ``expression``), or ``None`` when none of the names it may
        bind to (``retailflow.handlers.delegates``) is registered."""
        names = delegate_names(attribute, value)
        for name in names:
            found = self._registered(name)
            if found is not None:
                return found
        # A registry that answers for unknown names too (test mocks) answers for the bean name.
        return self.get(names[-1]) if names else None

    def aliases(self, topic: str) -> list[str]:
        """The aliases registered for ``topic``."""
        return [alias for alias, owner in self._aliases.items() if owner == topic]

    def topics(self) -> list[str]:
        """Every registered topic, in registration order."""
        return list(self._handlers)

    def __contains__(self, topic: object) -> bool:
        return topic in self._handlers or topic in self._aliases

    def __iter__(self) -> Iterator[RegisteredHandler]:
        return iter(list(self._handlers.values()))

    def __len__(self) -> int:
        return len(self._handlers)

    def __repr__(self) -> str:
        return f"<HandlerRegistry topics={self.topics()!r}>"

    def _add(self, registered: RegisteredHandler, aliases: Iterable[str] = ()) -> None:
        names = [registered.topic, *dict.fromkeys(a for a in aliases if a != registered.topic)]
        for name in names:
            existing = self._registered(name)
            if existing is not None:
                raise RetailflowError(self._clash_message(name, existing, registered))
        self._handlers[registered.topic] = registered
        for alias in names[1:]:
            self._aliases[alias] = registered.topic

    def _registered(self, name: str) -> RegisteredHandler | None:
        """The handler registered under ``name``, as a topic or an alias."""
        found = self._handlers.get(name)
        if found is None and name in self._aliases:
            return self._handlers[self._aliases[name]]
        return found

    def _names(self) -> Iterator[tuple[str, RegisteredHandler]]:
        """Every name (topics, then aliases) with the handler it calls."""
        yield from self._handlers.items()
        for alias, topic in self._aliases.items():
            yield alias, self._handlers[topic]

    @staticmethod
    def _clash_message(name: str, existing: RegisteredHandler, incoming: RegisteredHandler) -> str:
        return (
            f"topic '{name}' is already handled by "
            f"{describe_function(existing.function)}, so "
            f"{describe_function(incoming.function)} cannot have it too; a topic (or alias) "
            "runs exactly one handler: rename one or drop one registration"
        )
