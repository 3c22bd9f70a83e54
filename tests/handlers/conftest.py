"""A job context for handler tests: the values do not matter, only that a handler gets them."""

from __future__ import annotations

import pytest

from retailflow.handlers import HandlerContext


@pytest.fixture
def context() -> HandlerContext:
    return HandlerContext(
        instance_id="inst-1",
        business_key="SO-1001",
        process_id="order_fulfilment",
        definition_id="order_fulfilment:1",
        element_id="reserve_stock",
        job_id="job-7",
        topic="inventory.reserve",
        attempt=1,
        headers={"warehouse": "north"},
    )
