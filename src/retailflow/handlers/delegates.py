"""The names under which a Camunda 7 delegate looks for its Python handler.

Camunda 7 calls Java code three ways; each becomes the handler names tried, in order, against
the registry's topics and aliases (the first registered one wins):

* ``camunda:class="com.acme.ReserveStock"``: the class name as written, its simple name
  ``ReserveStock``, and the bean name Spring would give the class, ``reserveStock``;
* ``camunda:delegateExpression="${reserveStock}"``: the bean name inside the expression,
  ``reserveStock`` (``${beans.reserveStock}`` gives ``beans.reserveStock``);
* ``camunda:expression="${inventory.reserve(execution)}"``: the called method's path without
  its arguments, ``inventory.reserve`` (a bean's method is a handler topic, the way Camunda 8
  job types are often written).

Anything else (an expression that is not a plain path, say) has no name, and the deployment
refuses it naming the element.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retailflow.bpmn.extensions import ElementConfig
    from retailflow.handlers.registry import HandlerRegistry

_EXPRESSION = re.compile(
    r"^\s*[$#]\{\s*(?P<path>[A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*)"
    r"\s*(?:\((?P<arguments>.*)\))?\s*\}\s*$",
    re.DOTALL,
)


def delegate_names(attribute: str, value: str) -> tuple[str, ...]:
    """The handler names a delegate written ``camunda:<attribute>="<value>"`` may bind to, in
    the order they are tried; empty when the value names nothing a handler could be."""
    value = value.strip()
    if attribute == "class":
        simple = value.rpartition(".")[2].rpartition("$")[2]
        names = [value, simple]
        if simple:
            names.append(simple[0].lower() + simple[1:])
        return tuple(dict.fromkeys(name for name in names if name))
    matched = _EXPRESSION.match(value)
    if matched is None:
        return ()
    if attribute == "delegateExpression" and matched.group("arguments") is not None:
        return ()  # a factory call: the bean it returns has no name to look up
    return (re.sub(r"\s+", "", matched.group("path")),)


def describe_delegate(attribute: str, value: str) -> str:
    """How a delegate is written in the file, for messages: ``camunda:class="..."``."""
    return f'camunda:{attribute}="{value}"'


@dataclass(frozen=True, slots=True)
class UnboundCallout:
    """A delegate or listener of an element whose handler is not registered: what it is, the
    names looked for, and the line it is written on (None: the element's own)."""

    what: str
    names: tuple[str, ...]
    line: int | None = None

    @property
    def message(self) -> str:
        looked = ", ".join(f"'{name}'" for name in self.names) or "no usable name"
        return f"no handler is registered for the {self.what} (looked for {looked})"

    @property
    def hint(self) -> str:
        if not self.names:
            return (
                "write the delegate as camunda:class, ${bean} or ${bean.method(...)}, "
                "naming a registered handler"
            )
        return (
            f"register one with @handlers.handler({self.names[-1]!r}) or give an existing "
            f"handler aliases=[{self.names[0]!r}], or deploy with require_handlers=False "
            "if the app binds handlers later"
        )


def unbound_callouts(registry: HandlerRegistry, config: ElementConfig) -> list[UnboundCallout]:
    """The delegate and listeners of one element that no handler of ``registry`` runs
    (scripts need none; a Camunda 7 connector is refused elsewhere)."""
    unbound = []
    delegate = config.java_delegate
    if (
        delegate is not None
        and delegate[0] != "connector"
        and not config.job_type
        and registry.delegate(*delegate) is None
    ):
        unbound.append(
            UnboundCallout(f"delegate {describe_delegate(*delegate)}", delegate_names(*delegate))
        )
    for listener in config.listeners:
        what = f"{listener.kind} listener '{listener.event}'"
        if listener.delegate is not None and registry.delegate(*listener.delegate) is None:
            unbound.append(
                UnboundCallout(
                    f"{what} {describe_delegate(*listener.delegate)}",
                    delegate_names(*listener.delegate),
                    listener.line,
                )
            )
        elif listener.job_type is not None and listener.job_type not in registry:
            unbound.append(
                UnboundCallout(
                    f"{what} of type '{listener.job_type}'", (listener.job_type,), listener.line
                )
            )
    return unbound
