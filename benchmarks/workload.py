"""The benchmarks' workload without retailflow: the process, the handler work and the variables.

Kept apart from ``ten_services`` (which builds retailflow's handler registry) so that another
engine's interpreter, such as ``camunda_python.py`` under Python 3.12, runs exactly the same
work without importing retailflow.
"""

from __future__ import annotations

from pathlib import Path

PROCESS = Path(__file__).resolve().with_name("ten_services.bpmn")
PROCESS_ID = "ten_services"
TOPICS = ["s1", "s2", "s3", "s4", "s5", "s6_big", "s6_small", "s7", "s8", "s9", "s10"]


def handler(amount: int) -> dict[str, int]:
    """The work each service task does, identical in every run."""
    return {"last_amount": amount}


def variables(number: int) -> dict[str, int]:
    """Half the instances take each branch of the gateway."""
    return {"amount": 50 + 100 * (number % 2)}
