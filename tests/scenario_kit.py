"""Shared by the scenario tests: paths, a handler recorder, and history readers."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from retailflow import Engine, HandlerContext, HandlerRegistry, HistoryKind

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = ROOT / "processes"
FIXTURES = ROOT / "tests" / "fixtures"
POSTGRES_URL = os.environ.get(
    "RETAILFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

EngineFactory = Callable[..., Engine]


class Recorder:
    """A registry of handlers that record each call's inputs and return canned outputs."""

    def __init__(self) -> None:
        self.registry = HandlerRegistry()
        self.calls: list[tuple[str, dict[str, Any], HandlerContext]] = []

    def add(
        self, topic: str, behaviour: Callable[[dict[str, Any]], Any] | dict[str, Any] | None = None
    ) -> None:
        def handler(context: HandlerContext, **variables: Any) -> Any:
            self.calls.append((topic, variables, context))
            if callable(behaviour):
                return behaviour(variables)
            return behaviour

        self.registry.register(topic, handler)

    def topics(self) -> list[str]:
        return [topic for topic, _, _ in self.calls]


def passed(engine: Engine, instance_id: str) -> list[str]:
    """Element ids the instance completed, in order."""
    return [
        event.element_id
        for event in engine.history(instance_id)
        if event.kind == HistoryKind.ELEMENT_COMPLETED and event.element_id
    ]


def routed_process(
    process_id: str,
    condition: str,
    *,
    lead: str = "",
    lead_id: str = "start",
    definitions: str = "",
) -> str:
    """A small BPMN file: ``lead`` (a start event ``start`` by default) flows into the exclusive
    gateway ``route``, whose flow ``when`` (taken on ``condition``) ends at ``a`` and whose
    default ``otherwise`` ends at ``b``. ``definitions`` adds root elements (signals ...)."""
    lead = lead or '<bpmn:startEvent id="start"/>'
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d"
    targetNamespace="http://bpmn.io/schema/bpmn">
  {definitions}
  <bpmn:process id="{process_id}" isExecutable="true">
    {lead}
    <bpmn:exclusiveGateway id="route" default="otherwise"/>
    <bpmn:endEvent id="a"/>
    <bpmn:endEvent id="b"/>
    <bpmn:sequenceFlow id="to_route" sourceRef="{lead_id}" targetRef="route"/>
    <bpmn:sequenceFlow id="when" sourceRef="route" targetRef="a">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="otherwise" sourceRef="route" targetRef="b"/>
  </bpmn:process>
</bpmn:definitions>"""


def outage_shop() -> HandlerRegistry:
    """The small order flow's handlers (``order_fulfilment_c8.bpmn``) on a morning when the
    warehouse system is down for order SO-4: the KPI tests' shop."""
    handlers = HandlerRegistry()

    @handlers.handler("inventory.reserve")
    def reserve(order_id: str) -> dict[str, Any]:
        if order_id == "SO-4":
            raise ConnectionError("warehouse system unreachable")
        return {"stock_reserved": True}

    @handlers.handler("inventory.release")
    def release() -> dict[str, Any]:
        return {"stock_reserved": False}

    @handlers.handler("orders.ship")
    def ship(order_id: str) -> dict[str, Any]:
        return {"tracking_number": f"TRK-{order_id}"}

    @handlers.handler("crm.notify_customer")
    def notify() -> None:
        return None

    return handlers
