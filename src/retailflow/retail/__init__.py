"""The new-retail domain handlers: inventory, orders and CRM.

``retail_handlers(shop)`` returns a ``HandlerRegistry`` whose handlers work on ``shop`` (a
``Shop``): the demo and the tests use it, and an embedding app replaces it with its own.
"""

from __future__ import annotations

from retailflow.retail.handlers import retail_handlers
from retailflow.retail.shop import OutOfStock, Shop

__all__ = ["OutOfStock", "Shop", "retail_handlers"]
