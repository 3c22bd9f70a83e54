"""Dropping a test's own PostgreSQL sessions, as a server restart or a network cut would: only
the backends whose connections carry the given ``application_name``, never another run's."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


def terminate_sessions(url: str, application_name: str) -> int:
    """Terminate the server's backends named ``application_name``; returns how many. The admin
    connection drops the URL's schema option and name, so it is never one of them."""
    admin = create_engine(
        make_url(url).difference_update_query(["options", "application_name"]), poolclass=NullPool
    )
    try:
        with admin.begin() as conn:
            terminated: int = conn.execute(
                text(
                    "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": application_name},
            ).scalar_one()
        return terminated
    finally:
        admin.dispose()
