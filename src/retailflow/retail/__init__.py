"""The new-retail domain: the back office's data and the handlers the shipped processes run.

``retail_handlers(office)`` returns one ``HandlerRegistry`` with every retail handler, all
working on ``office`` (a ``Backoffice``): the demo and the tests use it, and an embedding app
replaces any part of it with its own.
"""

from __future__ import annotations

import os

from retailflow.handlers import HandlerRegistry
from retailflow.retail.backoffice import Backoffice
from retailflow.retail.crm import crm_handlers
from retailflow.retail.inventory import inventory_handlers
from retailflow.retail.orders import order_handlers
from retailflow.retail.procurement import procurement_handlers
from retailflow.retail.seed import seed_backoffice


def retail_handlers(office: Backoffice) -> HandlerRegistry:
    """Every retail handler, working on ``office``."""
    registry = HandlerRegistry()
    for domain in (inventory_handlers, order_handlers, crm_handlers, procurement_handlers):
        registry.include(domain(office))
    return registry


__all__ = ["Backoffice", "registry", "retail_handlers", "seed_backoffice"]


def registry() -> HandlerRegistry:
    """Every retail handler on the back office at ``$RETAILFLOW_RETAIL_DB`` (in memory when
    unset): what ``--handlers retailflow.retail:registry`` runs in ``retailflow worker`` and
    checks in ``retailflow validate``."""
    return retail_handlers(Backoffice(os.environ.get("RETAILFLOW_RETAIL_DB", "sqlite://")))
