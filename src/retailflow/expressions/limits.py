"""The sizes one evaluation step may build, shared by every dialect's guards.

A sandbox that only limits wall-clock time between lines cannot stop ``10**10**10`` or
``'a' * 10**10``: each is a single bytecode that runs for minutes or exhausts memory. Every
operator and built-in that can multiply a value's size in one step checks against these first.
"""

from __future__ import annotations

# Largest integer an operator may build (about 30,000 digits): the largest a variable may hold.
from retailflow.model.variables import MAX_INT_BITS as MAX_INT_BITS

MAX_ITEMS = 1_000_000
"""Largest list or range an expression or script may produce."""

MAX_LOOP_STEPS = 200_000
"""FEEL iterations and function calls one outermost loop may run (about 1-2 s at worst);
FEEL has no time limit, so this is what bounds its running time."""

MAX_TEXT = 10_000_000
"""Largest string (characters) or bytes an operation may build."""

MAX_FORMAT_WIDTH = 10_000
"""Largest width or precision in a format specification."""
