"""The benchmarks' workload: ``ten_services.bpmn`` and its handlers, shared by every script.

``registry`` is also what benchmark workers load: ``--handlers ten_services:registry``.
"""

from __future__ import annotations

from pathlib import Path

from retailflow import HandlerRegistry

PROCESS = Path(__file__).resolve().with_name("ten_services.bpmn")
PROCESS_ID = "ten_services"
TOPICS = ["s1", "s2", "s3", "s4", "s5", "s6_big", "s6_small", "s7", "s8", "s9", "s10"]


def handler(amount: int) -> dict[str, int]:
    """The work each service task does, identical in every run."""
    return {"last_amount": amount}


def make_registry() -> HandlerRegistry:
    handlers = HandlerRegistry()
    for topic in TOPICS:
        handlers.register(f"bench.{topic}", handler)
    return handlers


def variables(number: int) -> dict[str, int]:
    """Half the instances take each branch of the gateway."""
    return {"amount": 50 + 100 * (number % 2)}


registry = make_registry()
