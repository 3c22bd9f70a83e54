"""The new-retail domain: the back office's data and the handlers the shipped processes run.

``retail_handlers(office)`` returns one ``HandlerRegistry`` with every retail handler, all
working on ``office`` (a ``Backoffice``): the demo and the tests use it, and an embedding app
replaces any part of it with its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from importlib.resources import files
from pathlib import Path

from retailflow.engine.kpis import compute_kpis
from retailflow.handlers import HandlerRegistry
from retailflow.model import ProcessKpis
from retailflow.retail.analytics import KpiSource, analytics_handlers
from retailflow.retail.backoffice import Backoffice
from retailflow.retail.crm import crm_handlers
from retailflow.retail.insight import insight_handlers
from retailflow.retail.inventory import inventory_handlers
from retailflow.retail.marketing import marketing_handlers
from retailflow.retail.orders import order_handlers
from retailflow.retail.procurement import procurement_handlers
from retailflow.retail.seed import seed_backoffice
from retailflow.retail.service_desk import service_desk_handlers
from retailflow.stores import database_url, open_store


def retail_handlers(office: Backoffice, *, kpis: KpiSource | None = None) -> HandlerRegistry:
    """Every retail handler, working on ``office``; the analytics handlers read their KPIs
    from ``kpis`` (``Engine.kpis``, or a callable that reaches the engine once it is built),
    and fail with an error saying so when it is not given."""
    registry = HandlerRegistry()
    for domain in (
        inventory_handlers,
        order_handlers,
        crm_handlers,
        marketing_handlers,
        service_desk_handlers,
        insight_handlers,
        procurement_handlers,
    ):
        registry.include(domain(office))
    registry.include(analytics_handlers(office, kpis))
    return registry


def shipped_processes() -> Path:
    """The directory of the shipped process and decision files (the repository's top-level
    ``processes/``, installed as the package ``retailflow.processes``): the same files in a
    wheel, an editable install and a checkout."""
    return Path(str(files("retailflow.processes")))


def registry() -> HandlerRegistry:
    """Every retail handler on the back office at ``$RETAILFLOW_RETAIL_DB`` (in memory when
    unset), with KPIs read from the engine's store at ``$RETAILFLOW_DB`` (none when unset):
    what ``--handlers retailflow.retail:registry`` runs in ``retailflow worker`` and checks in
    ``retailflow validate``."""
    office = Backoffice(os.environ.get("RETAILFLOW_RETAIL_DB", "sqlite://"))
    engine_db = os.environ.get("RETAILFLOW_DB")
    return retail_handlers(office, kpis=_store_kpis(engine_db, office) if engine_db else None)


def _store_kpis(db: str, office: Backoffice) -> KpiSource:
    """KPIs read from the engine's store at ``db`` (a URL or a plain SQLite path, as the
    worker takes it), opened for each review and closed after it."""
    url = database_url(db)

    def kpis(
        *,
        process_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        sla: Mapping[str, timedelta] | None = None,
    ) -> list[ProcessKpis]:
        store = open_store(url, migrate=False)
        try:
            return compute_kpis(
                store,
                now=office.clock.now(),
                process_id=process_id,
                since=since,
                until=until,
                sla=sla,
            )
        finally:
            store.close()

    return kpis


__all__ = ["Backoffice", "registry", "retail_handlers", "seed_backoffice", "shipped_processes"]
