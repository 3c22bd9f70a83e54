"""SpiffWorkflow logs every task state change at INFO (``spiff.task``, ``spiff.workflow``,
``spiff.data``): in an application whose root logger is at INFO that is a flood nobody asked
for. retailflow's own log (``retailflow.*``) and the history already say what an instance did,
so SpiffWorkflow's loggers start at WARNING, unless the application has set a level on
``spiff`` itself (before importing retailflow, or at any time after)."""

from __future__ import annotations

import logging

SPIFF_LOGGER = "spiff"
"""The parent of every logger SpiffWorkflow writes to."""


def quiet_spiffworkflow() -> None:
    """Put SpiffWorkflow's loggers at WARNING unless the application configured them."""
    spiff = logging.getLogger(SPIFF_LOGGER)
    if spiff.level == logging.NOTSET:
        spiff.setLevel(logging.WARNING)
