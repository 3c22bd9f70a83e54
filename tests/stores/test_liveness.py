"""Worker liveness on PostgreSQL: a connection whose socket is gone as it is being watched is
the store unavailable (retried by the worker), never a raw driver error."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine

from retailflow.model import StoreUnavailableError
from retailflow.stores.sql import liveness
from retailflow.stores.sql.liveness import Liveness


class _LostSocket:
    """What psycopg's connection answers for its socket once the server has gone."""

    def fileno(self) -> int:
        raise psycopg.OperationalError("the connection is lost")


def test_a_socket_lost_while_it_is_watched_is_the_store_unavailable_and_taken_again(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(postgres_url)
    watched = Liveness(engine)
    real_driver = liveness._driver
    monkeypatch.setattr(liveness, "_driver", lambda connection: _LostSocket())
    try:
        with pytest.raises(StoreUnavailableError, match="connection is lost"):
            watched.hold("worker-1")

        # Once the socket answers again, the next hold connects afresh and takes the lock.
        monkeypatch.setattr(liveness, "_driver", real_driver)
        watched.hold("worker-1")
        with engine.connect() as other:
            held: Any = other.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                f"AND classid = {liveness._LIVENESS_CLASS} AND objid = hashtext('worker-1')::oid"
            ).scalar_one()
        assert held == 1
    finally:
        watched.close()
        engine.dispose()
