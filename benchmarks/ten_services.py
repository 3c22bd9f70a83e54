"""The benchmarks' workload (``workload``) and retailflow's handlers for it, shared by every script.

``registry`` is also what benchmark workers load: ``--handlers ten_services:registry``.
"""

from __future__ import annotations

from workload import PROCESS, PROCESS_ID, TOPICS, handler, variables

from retailflow import HandlerRegistry

__all__ = ["PROCESS", "PROCESS_ID", "TOPICS", "handler", "make_registry", "registry", "variables"]


def make_registry() -> HandlerRegistry:
    handlers = HandlerRegistry()
    for topic in TOPICS:
        handlers.register(f"bench.{topic}", handler)
    return handlers


registry = make_registry()
