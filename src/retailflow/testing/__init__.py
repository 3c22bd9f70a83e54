"""Testing processes as the business reads them: a pytest plugin (fixtures ``rf_engine``,
``rf_deployment``, ``rf_clock``, ``rf_handlers``), fluent assertions, scenario shortcuts and
BPMN coverage. See docs/testing.md.

    from retailflow.testing import assert_that, complete, correlate, start
"""

from __future__ import annotations

from retailflow.engine.time_travel import TimeTravel
from retailflow.testing.assertions import InstanceAssert, assert_that
from retailflow.testing.binding import bind_engine
from retailflow.testing.coverage import CoverageCollector
from retailflow.testing.mocks import HandlerCall, HandlerMocks, MockedTopic
from retailflow.testing.shortcuts import complete, correlate, start
from retailflow.testing.whereabouts import Whereabouts

__all__ = [
    "CoverageCollector",
    "HandlerCall",
    "HandlerMocks",
    "InstanceAssert",
    "MockedTopic",
    "TimeTravel",
    "Whereabouts",
    "assert_that",
    "bind_engine",
    "complete",
    "correlate",
    "start",
]
