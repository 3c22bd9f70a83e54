"""The tables ``SqlStore`` keeps, as SQLAlchemy Core metadata.

Every index here serves one query of the ``Store`` protocol, so that no query scans a table that
grows with finished work (history, resolved incidents, completed instances). Changes to it go
through an Alembic migration in ``migrations/versions`` (see ``schema_version``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Sequence,
    SmallInteger,
    String,
    Table,
    Text,
    literal_column,
)
from sqlalchemy import DateTime as SqlDateTime
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from retailflow.stores.errors import require_aware


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in and out, on every database.

    SQLite has no time zone type and would silently drop ``tzinfo`` (storing local wall time), so
    values are converted to UTC before they are bound and marked UTC again when read. A naive
    datetime is refused: guessing its zone is how timers fire hours late.
    """

    impl = SqlDateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = require_aware(value).astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), not a BIGINT one.
_Sequence: Any = BigInteger().with_variant(Integer(), "sqlite")
_Key = String(255)
# Small rows written at every step are stored in their primary key's b-tree on SQLite (WITHOUT
# ROWID): a separate rowid table plus key index would cost each write one more page (measured:
# 11 -> 9 WAL pages per checkpoint). PostgreSQL ignores the option.
_KEYED_BY_PRIMARY_KEY: dict[str, Any] = {"sqlite_with_rowid": False}

metadata = MetaData()
# PostgreSQL numbers instances from a sequence; SQLite, whose writers take turns, counts on.
INSTANCE_NUMBERS = Sequence("instance_numbers", metadata=metadata)


class NextInstanceNumber(FunctionElement[int]):
    """The number of the instance an INSERT adds (its column's default)."""

    type = BigInteger()
    inherit_cache = True


@compiles(NextInstanceNumber, "postgresql")
def _next_from_sequence(element: NextInstanceNumber, compiler: Any, **kw: Any) -> str:
    return f"nextval('{INSTANCE_NUMBERS.name}')"


@compiles(NextInstanceNumber, "sqlite")
def _next_after_the_last(element: NextInstanceNumber, compiler: Any, **kw: Any) -> str:
    # Read through ``ux_instances_number``; BEGIN IMMEDIATE makes the writer the only one.
    return "(SELECT coalesce(max(number), 0) + 1 FROM instances)"


# Alembic's revision of retailflow's tables lives in a table of retailflow's own, beside them:
# the default ``alembic_version`` belongs to the application when the two share a database.
VERSION_TABLE = "retailflow_schema_version"

resources = Table(
    "resources",
    metadata,
    Column("content_hash", _Key, primary_key=True),
    Column("name", Text, nullable=False),
    Column("content", LargeBinary, nullable=False),
)

definitions = Table(
    "definitions",
    metadata,
    Column("id", _Key, primary_key=True),
    Column("process_id", _Key, nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", Text),
    Column("content_hash", _Key, nullable=False),
    Column("resource_name", Text, nullable=False),
    Column("resource_hashes", JSON, nullable=False),
    Column("deployed_at", UtcDateTime, nullable=False),
    Index("ux_definitions_process_version", "process_id", "version", unique=True),
)

instances = Table(
    "instances",
    metadata,
    Column("id", _Key, primary_key=True),
    Column("definition_id", _Key, nullable=False),
    Column("process_id", _Key, nullable=False),
    Column("business_key", _Key),
    Column("status", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("parent_id", _Key),
    Column("version", Integer, nullable=False),
    Column("variables", JSON, nullable=False),
    Column("state", LargeBinary, nullable=False),
    # What history rows name the instance by: 8 bytes at most where the id takes 32.
    Column("number", BigInteger, nullable=False, default=NextInstanceNumber()),
    Index("ix_instances_status", "status", "started_at"),
    Index("ix_instances_process", "process_id", "started_at"),
    Index("ix_instances_business_key", "business_key"),
    Index("ix_instances_started", "started_at", "id"),
    Index("ux_instances_number", "number", unique=True),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", _Key, primary_key=True),
    Column("instance_id", _Key, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("element_id", _Key, nullable=False),
    Column("topic", _Key),
    Column("due_at", UtcDateTime, nullable=False),
    Column("retries_left", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("lock_owner", _Key),
    Column("lock_expires_at", UtcDateTime),
    Column("last_error", Text),
    Index("ix_jobs_instance", "instance_id"),
    **_KEYED_BY_PRIMARY_KEY,
)
# What a claim scans, in the order it claims; partial, so that failed jobs (incidents, no
# retries left) never slow a claim down however many pile up. ``CLAIMABLE`` is written
# literally in queries too: SQLite uses a partial index only when the query repeats its
# WHERE term with the same constant, not a bound parameter.
CLAIMABLE = jobs.c.retries_left > literal_column("0")
Index(
    "ix_jobs_claimable",
    jobs.c.due_at,
    jobs.c.id,
    sqlite_where=CLAIMABLE,
    postgresql_where=CLAIMABLE,
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", _Key, primary_key=True),
    Column("instance_id", _Key, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", _Key, nullable=False),
    Column("element_id", _Key, nullable=False),
    Column("correlation_key", _Key),
    Index("ix_subscriptions_lookup", "kind", "name", "correlation_key"),
    Index("ix_subscriptions_instance", "instance_id"),
    **_KEYED_BY_PRIMARY_KEY,
)

buffered_messages = Table(
    "buffered_messages",
    metadata,
    Column("id", _Key, primary_key=True),
    Column("name", _Key, nullable=False),
    Column("correlation_key", _Key),
    Column("variables", JSON, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_buffered_messages_lookup", "name", "correlation_key", "created_at"),
    Index("ix_buffered_messages_expiry", "expires_at"),
)

user_tasks = Table(
    "user_tasks",
    metadata,
    Column("id", _Key, primary_key=True),
    Column("instance_id", _Key, nullable=False),
    Column("element_id", _Key, nullable=False),
    Column("name", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("assignee", _Key),
    Column("candidate_groups", JSON, nullable=False),
    Column("candidate_users", JSON, nullable=False),
    Column("form_key", Text),
    Column("due_at", UtcDateTime),
    Column("variables", JSON, nullable=False),
    Index("ix_user_tasks_instance", "instance_id"),
    Index("ix_user_tasks_assignee", "assignee"),
    Index("ix_user_tasks_created", "created_at", "id"),
)

# One row per (candidate group, open task): "tasks group X may take" is an index lookup, which a
# JSON list column cannot offer portably. ``user_tasks.candidate_groups`` stays the source of the
# group order returned to callers.
user_task_groups = Table(
    "user_task_groups",
    metadata,
    Column("group_name", _Key, primary_key=True),
    Column("task_id", _Key, primary_key=True),
    Index("ix_user_task_groups_task", "task_id"),
    **_KEYED_BY_PRIMARY_KEY,
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", _Key, primary_key=True),
    Column("instance_id", _Key, nullable=False),
    Column("job_id", _Key, nullable=False),
    Column("element_id", _Key, nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    Index("ix_incidents_open", "resolved_at", "created_at"),
    Index("ix_incidents_instance", "instance_id"),
    Index("ix_incidents_job", "job_id"),
)

# One row per event, in codes (``rows.history_values``): the instance by its number, its
# definition and process only where they are not the instance's (NULL), the kind as a small
# integer, the time as microseconds since the epoch, a job id's UUID in 16 bytes. A row whose
# ``instance_id`` names no instance (a start timer's schedule owner) keeps it in ``owner_id``.
# The column order is the one migration 0005 leaves (SQLite compares table DDL).
history = Table(
    "history",
    metadata,
    Column("seq", _Sequence, primary_key=True, autoincrement=True),
    Column("definition_id", _Key),
    Column("element_id", _Key),
    Column("element_type", _Key),
    Column("attempt", Integer),
    # SQL NULL, not JSON 'null', when an event has none: what 0005 writes and reads back.
    Column("variables", JSON(none_as_null=True)),
    Column("process_id", _Key),
    Column("actor", _Key),
    Column("instance", BigInteger),
    Column("owner_id", _Key),
    Column("kind", SmallInteger, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("job_id", LargeBinary),
    Index("ix_history_instance", "instance", "seq"),
)
_HAS_OWNER = history.c.owner_id.is_not(None)
Index(
    "ix_history_owner",
    history.c.owner_id,
    history.c.seq,
    sqlite_where=_HAS_OWNER,
    postgresql_where=_HAS_OWNER,
)

# Cockpit and REST API tokens: only the SHA-256 of each secret, looked up by that hash.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("name", _Key, primary_key=True),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ux_api_tokens_hash", "token_hash", unique=True),
)
