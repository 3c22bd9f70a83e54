"""Sandboxed evaluation: FEEL (``=...``), JUEL (``${...}``) and restricted Python.

Every condition, mapping, script, timer and DMN entry is evaluated here, never with bare
``eval``/``exec``. ``ExpressionEngine`` is the entry point; ``parse_timer`` reads timer
definitions.
"""

from __future__ import annotations

from retailflow.expressions.dialect import Dialect, detect_dialect
from retailflow.expressions.engine import ExpressionEngine
from retailflow.expressions.timers import TimerSchedule, parse_timer

__all__ = ["Dialect", "ExpressionEngine", "TimerSchedule", "detect_dialect", "parse_timer"]
