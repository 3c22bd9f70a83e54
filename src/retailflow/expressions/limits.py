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

MAX_VALUE_SIZE = 5 * MAX_TEXT
"""Largest value an expression may repeat into a list or hand back to the engine, in the
characters printing it would take (every shared part counted each place it appears): a list of
a million numbers fits, a million references to a million-item list does not. Rendering a value
as text is held to ``MAX_TEXT``."""

MAX_VALUE_DEPTH = 200
"""Deepest nesting of lists and dicts the sandbox will render or size up."""

MAX_INT_DIGITS = MAX_INT_BITS * 3 // 10
"""Decimal digits of the largest integer: what ``int()`` of a string or ``Decimal`` may build."""

MAX_BUILT_BYTES = 256 * 1024 * 1024
"""Bytes one evaluation may build in all with repetitions, concatenations, padding, joins, list
extensions, the collections ``list()``/``tuple()``/``set()``/``dict()``/``sorted()`` return and
the items comprehensions and loops add (a repeated list slot counts 8, a character 1, an added
item ``ITEM_BYTES``): each step is bounded by the limits above, but a loop repeats steps."""

ITEM_BYTES = 40
"""What one item a comprehension, ``append`` or ``d[k] = v`` adds costs: an 8-byte slot and,
usually, a new object (an ``int`` or ``float`` takes 32 bytes)."""
