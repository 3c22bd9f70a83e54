"""``SqlStore``: the ``Store`` protocol on SQLite (embedded) and PostgreSQL (many workers).

Core statements, not the ORM, on every path: a checkpoint is the engine's unit of work and is
benchmarked, so it must cost a handful of statements and no identity-map bookkeeping.
Opening a store brings the database's schema up to date (``schema_version``) unless told not to.
"""

from __future__ import annotations

import heapq
import logging
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    String,
    Table,
    Update,
    and_,
    bindparam,
    case,
    cast,
    create_engine,
    delete,
    event,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import StaticPool

from retailflow.model import (
    ApiToken,
    BufferedMessage,
    ConcurrentUpdateError,
    HistoryEvent,
    Incident,
    Instance,
    InstanceQuery,
    InstanceStatus,
    Job,
    JobState,
    NotFoundError,
    ProcessDefinition,
    Resource,
    RetailflowError,
    StoreUnavailableError,
    Subscription,
    SubscriptionKind,
    UserTask,
    VariableMatch,
)
from retailflow.model.history import STEP_KINDS, StepEvent
from retailflow.model.variables import decode, encode
from retailflow.stores import errors
from retailflow.stores.base import Checkpoint, Durability, WaitStateIds
from retailflow.stores.sql import rows
from retailflow.stores.sql.liveness import CLAIMABLE_FROM_THE_DEAD, Liveness
from retailflow.stores.sql.pg_schema import create_schema, search_only, split_schema
from retailflow.stores.sql.prepared import (
    DriverConnections,
    DriverWrites,
    PreparedStatement,
    PreparedStatements,
    driver_cursor,
    driver_transaction,
)
from retailflow.stores.sql.schema import (
    CLAIMABLE,
    api_tokens,
    buffered_messages,
    incidents,
    instances,
    jobs,
    subscriptions,
    user_task_groups,
    user_tasks,
)
from retailflow.stores.sql.schema import definitions as definitions_table
from retailflow.stores.sql.schema import history as history_table
from retailflow.stores.sql.schema import resources as resources_table
from retailflow.stores.sql.schema_version import bring_up_to_date, current_revision, head_revision

logger = logging.getLogger(__name__)

_BUSY_TIMEOUT_MS = 30_000
# SQLite: a writer takes the write lock up front (see ``SqlStore._write``).
_BEGIN_IMMEDIATE = text("BEGIN IMMEDIATE")
# Group commit: each checkpoint of a group inside one, so that a refused one is undone alone.
_SAVEPOINT = text("SAVEPOINT checkpoint")
_ROLLBACK_TO_SAVEPOINT = text("ROLLBACK TO SAVEPOINT checkpoint")
_RELEASE_SAVEPOINT = text("RELEASE SAVEPOINT checkpoint")
# Key of the PostgreSQL advisory lock that serialises schema creation between processes.
_SCHEMA_LOCK_KEY = 0x7265_7461_696C
_HISTORY_CHUNK = 1000


# The statements of the hot paths (commit, claim, and the reads the engine makes per job) are
# built once: a statement object memoises its cache key, and executing a prebuilt statement costs
# a quarter of building the same one anew; the commit's own run on the driver's cursor, compiled
# once (``PreparedStatements``). Parameters are named ``b_...`` because SQLAlchemy reserves the
# column names for SET and VALUES; an UPDATE without ``values()`` sets the columns named by the
# parameters it is executed with. Deletes take one id each: the commit's deletes are of one or
# two rows, and a statement with a fixed shape is prepared once, where ``IN`` lists vary.
_INSTANCE_COLUMNS = [column for column in instances.c if column.name != "state"]
_INSTANCE = select(*_INSTANCE_COLUMNS).where(instances.c.id == bindparam("b_id"))
_LATEST_DEFINITION_ID = (
    select(definitions_table.c.id)
    .where(definitions_table.c.process_id == bindparam("b_process"))
    .order_by(definitions_table.c.version.desc())
    .limit(1)
)
_INSTANCE_VERSION = select(instances.c.version).where(instances.c.id == bindparam("b_id"))


def _load_state(aggregate: Callable[[Any], Any]) -> Select[Any]:
    """The instance row with the ids of its wait states, each kind aggregated by ``aggregate``
    into one column: one statement, so one snapshot, and no read of them in the commit."""

    def ids(table: Table) -> Any:
        return (
            select(aggregate(table.c.id)).where(table.c.instance_id == instances.c.id)
        ).scalar_subquery()

    return select(
        instances,
        ids(jobs).label("job_ids"),
        ids(subscriptions).label("subscription_ids"),
        ids(user_tasks).label("user_task_ids"),
    ).where(instances.c.id == bindparam("b_id"))


# PostgreSQL aggregates into an array (NULL for none), SQLite into a JSON list.
_LOAD_STATE = {
    "postgresql": _load_state(func.array_agg),
    "sqlite": _load_state(func.json_group_array),
}
_INSERT_INSTANCE = insert(instances)
_UPDATE_INSTANCE = update(instances).where(
    instances.c.id == bindparam("b_id"), instances.c.version == bindparam("b_expected")
)
# SQLite: a step that leaves the status as it is (most do) does not set it, so SQLite leaves
# the status index alone, a page fewer to write per commit. No row: the status changed, or the
# version check refused the step (``_UPDATE_INSTANCE`` then tells which). Not on PostgreSQL,
# which skips unchanged index keys itself, where the retry would cost a round trip.
_UPDATE_INSTANCE_SAME_STATUS = _UPDATE_INSTANCE.where(instances.c.status == bindparam("b_status"))
_WAIT_STATE_IDS = union_all(
    select(literal("job"), jobs.c.id).where(jobs.c.instance_id == bindparam("b_instance")),
    select(literal("subscription"), subscriptions.c.id).where(
        subscriptions.c.instance_id == bindparam("b_instance")
    ),
    select(literal("user_task"), user_tasks.c.id).where(
        user_tasks.c.instance_id == bindparam("b_instance")
    ),
)
_JOB = select(jobs).where(jobs.c.id == bindparam("b_id"))
_INSERT_JOBS = insert(jobs)
# A job with no retries left is the only kind that can have an open incident.
_DELETE_JOB = delete(jobs).where(jobs.c.id == bindparam("b_id")).returning(jobs.c.retries_left <= 0)
# SQLite: a job with retries left (none of its incidents open) rewritten as another one; an
# UPDATE without ``values()`` sets every column ``rows.job_values`` names.
_REPLACE_FREE_JOB = update(jobs).where(jobs.c.id == bindparam("b_id"), CLAIMABLE)
_OWNER_JOB_IDS = select(jobs.c.id).where(jobs.c.instance_id == bindparam("b_instance"))
_DELETE_JOB_INCIDENTS = delete(incidents).where(incidents.c.job_id == bindparam("b_id"))
_INSERT_SUBSCRIPTIONS = insert(subscriptions)
_DELETE_SUBSCRIPTION = delete(subscriptions).where(subscriptions.c.id == bindparam("b_id"))
_INSERT_USER_TASKS = insert(user_tasks)
_INSERT_USER_TASK_GROUPS = insert(user_task_groups)
_DELETE_USER_TASK = delete(user_tasks).where(user_tasks.c.id == bindparam("b_id"))
_DELETE_USER_TASK_GROUPS = delete(user_task_groups).where(
    user_task_groups.c.task_id == bindparam("b_id")
)
_INSERT_INCIDENTS = insert(incidents)


def _unless_the_instances(column: ColumnElement[Any], name: str) -> ColumnElement[Any]:
    """The event's value of ``column``, or NULL where it is its instance's (read back from it)."""
    given = bindparam(name, type_=column.type)
    return case((column == given, null()), else_=given)


# History rows are written against their instance's row (one index lookup each, in the same
# statement): its number, and NULL for a definition or process that is the instance's. An
# event of no instance (a start timer's schedule owner) keeps its id in ``owner_id``.
_EVENT_INSTANCE = select(literal_column("1").label("one")).subquery("one")
_INSERT_HISTORY = insert(history_table).from_select(
    [
        "instance",
        "owner_id",
        "definition_id",
        "process_id",
        "kind",
        "at",
        "element_id",
        "element_type",
        "attempt",
        "job_id",
        "variables",
        "actor",
    ],
    select(
        instances.c.number,
        case((instances.c.number.is_(None), bindparam("b_instance", type_=String))),
        _unless_the_instances(instances.c.definition_id, "b_definition"),
        _unless_the_instances(instances.c.process_id, "b_process"),
        *(
            bindparam(f"b_{name}", type_=history_table.c[name].type)
            for name in ("kind", "at", "element_id", "element_type", "attempt", "job_id")
        ),
        bindparam("b_variables", type_=history_table.c.variables.type),
        bindparam("b_actor", type_=history_table.c.actor.type),
    ).select_from(_EVENT_INSTANCE.outerjoin(instances, instances.c.id == bindparam("b_instance"))),
)
# A history row as ``rows.history_from_row`` reads it: with its instance's id, definition and
# process (the instance's number means nothing outside the database).
_HISTORY_COLUMNS = (
    history_table.c.seq,
    func.coalesce(instances.c.id, history_table.c.owner_id).label("instance_id"),
    func.coalesce(history_table.c.definition_id, instances.c.definition_id).label("definition_id"),
    history_table.c.kind,
    history_table.c.at,
    history_table.c.element_id,
    history_table.c.element_type,
    history_table.c.attempt,
    history_table.c.job_id,
    history_table.c.variables,
    history_table.c.process_id,
    instances.c.process_id.label("instance_process_id"),
    history_table.c.actor,
)
_HISTORY: Select[Any] = select(*_HISTORY_COLUMNS).select_from(
    history_table.outerjoin(instances, instances.c.number == history_table.c.instance)
)
# Driven from the instances (in id order, through their primary key) to their rows.
_INSTANCE_HISTORY: Select[Any] = select(*_HISTORY_COLUMNS).select_from(
    instances.join(history_table, history_table.c.instance == instances.c.number)
)
_OWNER_HISTORY = _HISTORY.where(history_table.c.owner_id.is_not(None))
_EVENT_DEFINITION = func.coalesce(history_table.c.definition_id, instances.c.definition_id)
_CONSUME_MESSAGE = delete(buffered_messages).where(buffered_messages.c.id == bindparam("b_id"))
# PostgreSQL: a commit that opens a message subscription and ``buffer_message`` take this
# transaction lock on the message's name and key before each reads what the other writes, so
# the later of the two always sees the earlier one (under READ COMMITTED neither would see the
# other's uncommitted row). SQLite needs none: BEGIN IMMEDIATE makes every writer the only one.
_MESSAGE_LOCK = text("SELECT pg_advisory_xact_lock(:b_class, hashtext(:b_name))")
_MESSAGE_LOCK_CLASS = 0x6D73


def _claimable_now(*also_free: ColumnElement[Any]) -> Select[Any]:
    """The ids of the jobs due now that are free: unclaimed, their lease run out, or
    ``also_free`` says so."""
    return (
        select(jobs.c.id)
        .where(
            jobs.c.due_at <= bindparam("b_now"),
            CLAIMABLE,
            or_(
                jobs.c.lock_owner.is_(None),
                jobs.c.lock_expires_at <= bindparam("b_now"),
                *also_free,
            ),
        )
        .order_by(jobs.c.due_at, jobs.c.id)
    )


# Read before claiming on SQLite: a poll that finds nothing due opens no write transaction (none
# that would queue behind every other writer for the file's one write lock). PostgreSQL claims in
# one autocommit statement, which the read would only add a round trip to.
_ANY_CLAIMABLE = _claimable_now().limit(1)


def _claim(*also_free: ColumnElement[Any]) -> Update:
    """One statement: on PostgreSQL concurrent claimers skip each other's rows instead of
    waiting; on SQLite, BEGIN IMMEDIATE already makes this the only writer."""
    return (
        update(jobs)
        .where(
            jobs.c.id.in_(
                _claimable_now(*also_free)
                .limit(bindparam("b_limit"))
                .with_for_update(skip_locked=True)
            )
        )
        .values(
            lock_owner=bindparam("b_owner"),
            lock_expires_at=bindparam("b_lease_until"),
            attempt=jobs.c.attempt + 1,
        )
        .returning(*jobs.c)
    )


_CLAIM = _claim()
# PostgreSQL: the claims of owners that are gone are free too (``liveness``).
_CLAIM_WITH_LIVENESS = _claim(CLAIMABLE_FROM_THE_DEAD)
_FAIL_JOB = (
    update(jobs)
    .where(jobs.c.id == bindparam("b_id"), jobs.c.lock_owner == bindparam("b_owner"))
    .values(
        lock_owner=None,
        lock_expires_at=None,
        last_error=bindparam("b_error"),
        retries_left=bindparam("b_retries_left"),
        due_at=bindparam("b_due_at"),
    )
)
_MESSAGES = (
    select(buffered_messages)
    .where(
        buffered_messages.c.name == bindparam("b_name"),
        buffered_messages.c.expires_at > bindparam("b_now"),
    )
    .order_by(buffered_messages.c.created_at, buffered_messages.c.id)
)
_KEYED_MESSAGES = _MESSAGES.where(buffered_messages.c.correlation_key == bindparam("b_key"))
_KEYLESS_MESSAGES = _MESSAGES.where(buffered_messages.c.correlation_key.is_(None))
_ANY_EXPIRED = (
    select(buffered_messages.c.id)
    .where(buffered_messages.c.expires_at <= bindparam("b_now"))
    .limit(1)
)
# Before any message expires: what a checkpoint without ``now`` counts from.
_EVER = datetime.min.replace(tzinfo=UTC)
_KEYED_WAITING = _KEYED_MESSAGES.with_only_columns(buffered_messages.c.id).limit(1)
_KEYLESS_WAITING = _KEYLESS_MESSAGES.with_only_columns(buffered_messages.c.id).limit(1)
_MESSAGE_SUBSCRIPTIONS = (
    select(subscriptions)
    .where(
        subscriptions.c.kind == SubscriptionKind.MESSAGE.value,
        subscriptions.c.name == bindparam("b_name"),
    )
    .order_by(subscriptions.c.id)
    .limit(1)
)
_KEYED_SUBSCRIPTION = _MESSAGE_SUBSCRIPTIONS.where(
    subscriptions.c.correlation_key == bindparam("b_key")
)
_KEYLESS_SUBSCRIPTION = _MESSAGE_SUBSCRIPTIONS.where(subscriptions.c.correlation_key.is_(None))
# Whether any unexpired message is buffered: when none is (the usual case), ``lost_wake_ups``
# is one prepared read.
_ANY_BUFFERED = (
    select(buffered_messages.c.id)
    .where(buffered_messages.c.expires_at > bindparam("b_now"))
    .limit(1)
)
# Driven by the buffer, usually empty, not by the subscriptions, of which thousands may wait:
# run() asks every time.
_LOST_WAKE_UPS = (
    select(subscriptions)
    .distinct()
    .select_from(buffered_messages)
    .join(
        subscriptions,
        (subscriptions.c.kind == SubscriptionKind.MESSAGE.value)
        & (subscriptions.c.name == buffered_messages.c.name)
        & subscriptions.c.correlation_key.is_not_distinct_from(buffered_messages.c.correlation_key),
    )
    .where(buffered_messages.c.expires_at > bindparam("b_now"))
    .order_by(subscriptions.c.id)
)


class SqlStore:
    """The durable store: ``sqlite:///file.db``, ``sqlite://`` (in memory) or
    ``postgresql+psycopg://...``. Each method is one transaction; safe to share between threads.
    """

    pending_jobs = None  # durable: every step of an instance is committed before the next

    def __init__(
        self, url: str, *, migrate: bool = True, durability: Durability | None = None
    ) -> None:
        """Open the store; with ``migrate`` (the default) create or upgrade the schema first,
        under a lock so that many workers starting together migrate once. ``migrate=False``
        refuses a database whose schema is not current (run ``retailflow db upgrade``), and
        leaves the file's settings (its journal mode) as they are. ``durability`` (or the
        URL's ``?durability=``; see ``Durability``) is what a commit survives."""
        self._where = _shown(url)  # for error messages, rendered once: not per transaction
        url, self.durability = _durability(url, durability)
        self._engine = _create_engine(url, set_up=migrate, durability=self.durability)
        _, schema = split_schema(make_url(url))
        self._postgres = self._engine.dialect.name == "postgresql"
        self._liveness = Liveness(self._engine) if self._postgres else None
        self._upsert = postgresql.insert if self._postgres else sqlite.insert
        self._statements = PreparedStatements(self._engine.dialect)
        # SQLite: the hot path's connections stay checked out between transactions. Not on
        # PostgreSQL, where a checkout replaces the connections a server restart killed.
        self._connections = DriverConnections(self._engine, keep=0 if self._postgres else 2)
        self._definitions: dict[str, ProcessDefinition] = {}
        # An in-memory SQLite database is one shared connection: transactions must take turns.
        self._serial: AbstractContextManager[Any] = (
            threading.RLock() if _is_sqlite_memory(url) else nullcontext()
        )
        with _opening(url), self._write() as conn:
            if not migrate:
                _require_current_schema(conn, url)
                return
            if self._postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
            if schema is not None:
                create_schema(conn, schema)
            bring_up_to_date(conn)

    @staticmethod
    def schema_revision(url: str) -> str | None:
        """The schema revision of the database at ``url`` (``None``: no retailflow tables),
        read without changing anything."""
        engine = _create_engine(_durability(url, None)[0])
        try:
            with _opening(url), _store_errors(_shown(url)), engine.connect() as conn:
                return current_revision(conn)
        finally:
            engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction. On SQLite it starts with BEGIN IMMEDIATE: the writer takes the
        write lock up front (waiting up to the busy timeout) instead of failing when it tries to
        upgrade a read lock while another process writes."""
        with _store_errors(self._where), self._serial, self._engine.connect() as conn, conn.begin():
            if not self._postgres:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    @contextmanager
    def _driver_write(self) -> Iterator[DriverWrites]:
        """A write transaction as ``_write`` opens it, on the driver's cursor: for the commit,
        the engine's unit of work, whose statements are all prepared."""
        with (
            _store_errors(self._where),
            self._serial,
            driver_transaction(
                self._connections,
                self._statements,
                begin=None if self._postgres else _BEGIN_IMMEDIATE,
            ) as tx,
        ):
            yield tx

    def _first(self, query: Select[Any], params: Mapping[str, Any]) -> Any:
        """The first row ``query`` finds (as the driver returns it: for columns that need no
        conversion), or ``None``: one prepared read, in no write transaction (on SQLite in
        autocommit mode: nothing to commit after it)."""
        with (
            _store_errors(self._where),
            self._serial,
            driver_transaction(
                self._connections, self._statements, begin=None, commit=self._postgres
            ) as tx,
        ):
            return tx.execute(query, params).fetchone()

    def _exists(self, query: Select[Any], params: Mapping[str, Any]) -> bool:
        """Whether ``query`` finds a row (see ``_first``)."""
        return self._first(query, params) is not None

    def _hold_claimants(self, checkpoints: Sequence[Checkpoint]) -> None:
        """On PostgreSQL, the owners of the jobs these steps claim for their engine (stored
        claimed: affinity) hold their liveness locks, so no one takes those jobs as a dead
        owner's."""
        if self._liveness is None:
            return
        for owner in {job.lock_owner for c in checkpoints for job in c.jobs if job.lock_owner}:
            self._liveness.hold(owner)

    @contextmanager
    def _one_statement(self) -> Iterator[Connection]:
        """A connection for one write statement, atomic on its own: on PostgreSQL in
        autocommit mode, which saves the BEGIN and COMMIT round trips; on SQLite a write
        transaction (``_write``)."""
        if not self._postgres:
            with self._write() as conn:
                yield conn
            return
        with _store_errors(self._where), self._engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection for one read statement (SQLite runs it in autocommit mode)."""
        with _store_errors(self._where), self._serial, self._engine.connect() as conn:
            yield conn

    # -- deployments -----------------------------------------------------------------------------
    def save_definitions(
        self,
        resources: Sequence[Resource],
        definitions: Sequence[ProcessDefinition],
        schedules: Mapping[str, Sequence[Job]] | None = None,
    ) -> None:
        """Store new resources (skipping hashes already stored) and definitions, and sync the
        given owners' job sets, atomically."""
        with self._write() as conn:
            tx = DriverWrites(driver_cursor(conn), self._statements)
            for owner, owned in (schedules or {}).items():
                _sync_owner_jobs(tx, owner, owned)
            if resources:
                conn.execute(
                    self._upsert(resources_table).on_conflict_do_nothing(),
                    [rows.resource_values(resource) for resource in resources],
                )
            if definitions:
                try:
                    conn.execute(
                        insert(definitions_table),
                        [rows.definition_values(definition) for definition in definitions],
                    )
                except IntegrityError as error:
                    raise errors.definitions_exist(d.id for d in definitions) from error

    def get_resource(self, content_hash: str) -> Resource:
        """The resource with that content hash; ``NotFoundError`` if none."""
        with self._read() as conn:
            row = conn.execute(
                select(resources_table).where(resources_table.c.content_hash == content_hash)
            ).first()
        if row is None:
            raise errors.resource_not_found(content_hash)
        return rows.resource_from_row(row)

    def get_definition(self, definition_id: str) -> ProcessDefinition:
        """One definition by id (``"process:version"``); ``NotFoundError`` if none. A stored
        definition never changes, so each is read once."""
        definition = self._definitions.get(definition_id)
        if definition is not None:
            return definition
        with self._read() as conn:
            row = conn.execute(
                select(definitions_table).where(definitions_table.c.id == definition_id)
            ).first()
        if row is None:
            raise errors.definition_not_found(definition_id)
        definition = self._definitions[definition_id] = rows.definition_from_row(row)
        return definition

    def latest_definition(self, process_id: str) -> ProcessDefinition | None:
        """The highest version of a process id, or ``None``. Asked at every start, so only
        the id is read (another process may have deployed a newer version meanwhile); the
        definition itself comes from ``get_definition``'s cache."""
        row = self._first(_LATEST_DEFINITION_ID, {"b_process": process_id})
        return None if row is None else self.get_definition(row[0])

    def list_definitions(self) -> list[ProcessDefinition]:
        """Every definition, ordered by process id then version."""
        with self._read() as conn:
            result = conn.execute(
                select(definitions_table).order_by(
                    definitions_table.c.process_id, definitions_table.c.version
                )
            )
            return [rows.definition_from_row(row) for row in result]

    # -- instances -------------------------------------------------------------------------------
    def commit(self, checkpoint: Checkpoint) -> None:
        """Apply a checkpoint atomically; ``ConcurrentUpdateError`` on a version mismatch."""
        self._hold_claimants([checkpoint])
        with self._driver_write() as tx:
            self._apply(tx, checkpoint)

    def commit_many(self, checkpoints: Sequence[Checkpoint]) -> list[RetailflowError | None]:
        """Apply checkpoints in one transaction, each inside a savepoint, so that a refused one
        (``ConcurrentUpdateError``, ``NotFoundError``) is rolled back alone and the others still
        commit (see ``Store.commit_many``): one commit, one sync, for a whole group of steps."""
        outcomes: list[RetailflowError | None] = []
        self._hold_claimants(checkpoints)
        with self._driver_write() as tx:
            for checkpoint in checkpoints:
                undoable = _needs_savepoint(checkpoint)
                if undoable:
                    tx.execute(_SAVEPOINT, {})
                try:
                    self._apply(tx, checkpoint)
                except (ConcurrentUpdateError, NotFoundError) as refused:
                    if undoable:
                        tx.execute(_ROLLBACK_TO_SAVEPOINT, {})
                    outcomes.append(refused)
                else:
                    outcomes.append(None)
                if undoable:
                    tx.execute(_RELEASE_SAVEPOINT, {})
        return outcomes

    def _apply(self, tx: DriverWrites, checkpoint: Checkpoint) -> None:
        """Write one checkpoint in the open transaction. A step is refused
        (``ConcurrentUpdateError``, ``NotFoundError``) by its version check, before it writes
        anything, unless ``_needs_savepoint`` says otherwise."""
        instance = checkpoint.instance
        if checkpoint.consumed_message_ids:
            _consume_messages(tx, checkpoint.consumed_message_ids)
        if checkpoint.expected_version is None:
            try:
                tx.execute(_INSERT_INSTANCE, rows.instance_values(instance, checkpoint.state))
            except IntegrityError as error:
                raise errors.instance_exists(instance.id) from error
            _sync_jobs(tx, set(), checkpoint.jobs)
            opened = checkpoint.subscriptions
            _insert_wait_states(tx, opened, checkpoint.user_tasks)
        else:
            _update_instance(tx, checkpoint, checkpoint.expected_version)
            opened = _sync_wait_states(tx, checkpoint)
        self._refuse_missed_messages(tx, opened, checkpoint.now)
        tx.executemany(
            _INSERT_INCIDENTS, [rows.incident_values(incident) for incident in checkpoint.incidents]
        )
        for owner, owned in checkpoint.schedules.items():
            _sync_owner_jobs(tx, owner, owned)
        _append_history(tx, checkpoint.history)

    def _refuse_missed_messages(
        self, tx: DriverWrites, opened: Sequence[Subscription], now: datetime | None
    ) -> None:
        """Refuse the commit if a message is buffered (unexpired at ``now``) for a message
        subscription it opens: the step must be redone to deliver it. The step's own consumed
        messages are deleted already."""
        keys = {(s.name, s.correlation_key) for s in opened if s.kind == SubscriptionKind.MESSAGE}
        if not keys:
            return
        self._lock_messages(tx, keys)
        since = _EVER if now is None else now
        for name, key in keys:
            query = _KEYLESS_WAITING if key is None else _KEYED_WAITING
            if tx.execute(query, {"b_name": name, "b_key": key, "b_now": since}).fetchone():
                raise errors.message_arrived(name, key)

    def _lock_messages(self, tx: DriverWrites, keys: Iterable[tuple[str, str | None]]) -> None:
        """On PostgreSQL, lock the message names and keys for this transaction, in one order
        so that two transactions never wait for each other's locks."""
        if self._postgres:
            for lock_name in sorted({orjson.dumps(list(k)).decode() for k in keys}):
                tx.execute(_MESSAGE_LOCK, {"b_class": _MESSAGE_LOCK_CLASS, "b_name": lock_name})

    def get_instance(self, instance_id: str) -> Instance:
        """One instance; ``NotFoundError`` if none."""
        with self._read() as conn:
            row = conn.execute(_INSTANCE, {"b_id": instance_id}).first()
        if row is None:
            raise errors.instance_not_found(instance_id)
        return rows.instance_from_row(row)

    def load_state(self, instance_id: str) -> tuple[Instance, bytes, WaitStateIds]:
        """The instance, its serialized engine state and its wait-state ids, in one
        statement."""
        with self._read() as conn:
            row = conn.execute(
                _LOAD_STATE[self._engine.dialect.name], {"b_id": instance_id}
            ).first()
        if row is None:
            raise errors.instance_not_found(instance_id)
        stored = WaitStateIds(
            _id_set(row.job_ids), _id_set(row.subscription_ids), _id_set(row.user_task_ids)
        )
        return rows.instance_from_row(row), row.state, stored

    def list_instances(
        self,
        *,
        status: InstanceStatus | None = None,
        process_id: str | None = None,
        business_key: str | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[Instance]:
        """Instances matching every given filter, oldest first; ``after`` an instance id
        (see ``Store.list_instances``)."""
        return self.search_instances(
            InstanceQuery(
                process_id=process_id,
                status=status,
                business_key=business_key,
                limit=limit,
                after=after,
            )
        )

    def search_instances(self, query: InstanceQuery) -> list[Instance]:
        """One page of the instances ``query`` selects: a range read of the start-order index
        (or the status, process or business-key index it starts with), whatever the depth."""
        started, ident = instances.c.started_at, instances.c.id
        ordered = (started.desc(), ident.desc()) if query.newest_first else (started, ident)
        statement = select(*_INSTANCE_COLUMNS).order_by(*ordered)
        if query.after is not None:
            cursor = self.get_instance(query.after).started_at
            if query.newest_first:
                beyond = or_(started < cursor, and_(started == cursor, ident < query.after))
            else:
                beyond = or_(started > cursor, and_(started == cursor, ident > query.after))
            statement = statement.where(beyond)
        if query.status is not None:
            statement = statement.where(instances.c.status == InstanceStatus(query.status).value)
        if query.process_id is not None:
            statement = statement.where(instances.c.process_id == query.process_id)
        if query.business_key is not None:
            statement = statement.where(instances.c.business_key == query.business_key)
        if query.started_from is not None:
            statement = statement.where(started >= query.started_from)
        if query.started_until is not None:
            statement = statement.where(started < query.started_until)
        if query.variable is not None:
            statement = statement.where(self._variable_holds(*query.variable))
        if query.limit is not None:
            statement = statement.limit(query.limit)
        with self._read() as conn:
            return [rows.instance_from_row(row) for row in conn.execute(statement)]

    def _variable_holds(self, name: str, value: VariableMatch) -> ColumnElement[bool]:
        """The instance's latest variable ``name`` equals ``value`` as JSON (1 is not true).
        Both databases compare JSON texts of scalars in their minified form, as orjson writes."""
        wanted = orjson.dumps(value).decode()
        if self._postgres:
            stored = cast(instances.c.variables, postgresql.JSONB).op("->")(name)
            return stored == cast(literal(wanted), postgresql.JSONB)
        if '"' in name:
            raise RetailflowError(
                f"cannot search by variable {name!r} on SQLite: its JSON paths cannot name a "
                'variable with a double quote (") in its name'
            )
        path = f'$."{name}"'
        return instances.c.variables.op("->")(literal(path)) == literal(wanted)

    def count_instances(self) -> dict[tuple[str, InstanceStatus], int]:
        """How many instances each process has in each status (one grouped read)."""
        statement = select(instances.c.process_id, instances.c.status, func.count()).group_by(
            instances.c.process_id, instances.c.status
        )
        with self._read() as conn:
            return {
                (process_id, InstanceStatus(status)): count
                for process_id, status, count in conn.execute(statement)
            }

    # -- jobs ------------------------------------------------------------------------------------
    def claim_due_jobs(
        self, *, now: datetime, owner: str, lease_until: datetime, limit: int
    ) -> list[Job]:
        """Lock up to ``limit`` due jobs for ``owner``: due_at <= now, retries_left > 0, and not
        locked (or lock expired). Claimed jobs carry the new lock and ``attempt`` + 1.

        On PostgreSQL ``owner`` holds its liveness lock from now until the store is closed,
        and the claims of owners that hold none (their process died) are free too."""
        params = {"b_now": now, "b_owner": owner, "b_lease_until": lease_until, "b_limit": limit}
        if self._liveness is not None:
            self._liveness.hold(owner)
            with self._one_statement() as conn:
                claimed = [
                    rows.job_from_row(row) for row in conn.execute(_CLAIM_WITH_LIVENESS, params)
                ]
        elif not self._exists(_ANY_CLAIMABLE, {"b_now": now}):
            return []
        else:
            # SQLite: the claim is a write transaction like a commit, run as the commit's are.
            with self._driver_write() as tx:
                claimed = [rows.job_from_row(row) for row in tx.rows(_CLAIM, params)]
        return sorted(claimed, key=lambda job: (job.due_at, job.id))

    def release_job(self, job_id: str, *, owner: str) -> None:
        """Give a claimed job back unchanged (e.g. when a worker shuts down).

        The claim is undone, attempt included: the handler never ran. A job no longer locked by
        ``owner`` is left alone, since another worker may hold it now.
        """
        with self._one_statement() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.lock_owner == owner)
                .values(
                    lock_owner=None,
                    lock_expires_at=None,
                    attempt=case((jobs.c.attempt > 0, jobs.c.attempt - 1), else_=0),
                )
            )

    def drop_job(self, job_id: str, *, owner: str) -> None:
        """Delete a job ``owner`` holds that no longer belongs to a waiting task of its
        instance; one another worker holds now is left alone. A claimed job has retries left,
        so no open incident names it."""
        with self._one_statement() as conn:
            conn.execute(delete(jobs).where(jobs.c.id == job_id, jobs.c.lock_owner == owner))

    def fail_job(
        self,
        job_id: str,
        *,
        owner: str,
        error: str,
        retries_left: int,
        due_at: datetime,
        incident: Incident | None,
        history: Sequence[HistoryEvent],
    ) -> None:
        """Record a failed attempt: unlock, set retries and next due time, and open the incident
        when given; one transaction. Refused (``ConcurrentUpdateError``) when ``owner`` lost the
        lock, so a late worker cannot overwrite the attempt of the one that took over."""
        with self._write() as conn:
            updated = conn.execute(
                _FAIL_JOB,
                {
                    "b_id": job_id,
                    "b_owner": owner,
                    "b_error": error,
                    "b_retries_left": retries_left,
                    "b_due_at": due_at,
                },
            ).rowcount
            if updated != 1:
                holder = conn.execute(select(jobs.c.lock_owner).where(jobs.c.id == job_id)).first()
                if holder is None:
                    raise errors.job_not_found(job_id)
                raise errors.lock_lost(job_id, owner, holder.lock_owner)
            if incident is not None:
                conn.execute(_INSERT_INCIDENTS, [rows.incident_values(incident)])
            _append_history(DriverWrites(driver_cursor(conn), self._statements), history)

    def retry_job(
        self, job_id: str, *, retries_left: int, due_at: datetime, history: Sequence[HistoryEvent]
    ) -> None:
        """Give a job new retries and a due time, and resolve its open incidents; one
        transaction. ``NotFoundError`` if the job does not exist.

        Incidents are marked resolved at the time of the latest given history event (the
        engine's clock), or at ``due_at`` when no event is given.
        """
        resolved_at = max((event.at for event in history), default=due_at)
        with self._write() as conn:
            updated = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(retries_left=retries_left, due_at=due_at)
            ).rowcount
            if updated != 1:
                raise errors.job_not_found(job_id)
            conn.execute(
                update(incidents)
                .where(incidents.c.job_id == job_id, incidents.c.resolved_at.is_(None))
                .values(resolved_at=resolved_at)
            )
            _append_history(DriverWrites(driver_cursor(conn), self._statements), history)

    def get_job(self, job_id: str) -> Job:
        """One job; ``NotFoundError`` if none."""
        with self._read() as conn:
            row = conn.execute(_JOB, {"b_id": job_id}).first()
        if row is None:
            raise errors.job_not_found(job_id)
        return rows.job_from_row(row)

    def list_jobs(self, *, instance_id: str | None = None) -> list[Job]:
        """Jobs, optionally of one instance, ordered by due time."""
        query = select(jobs).order_by(jobs.c.due_at, jobs.c.id)
        if instance_id is not None:
            query = query.where(jobs.c.instance_id == instance_id)
        with self._read() as conn:
            return [rows.job_from_row(row) for row in conn.execute(query)]

    def count_jobs(self, now: datetime) -> dict[JobState, int]:
        """How many jobs are in each state at ``now``: one grouped read, the state decided
        as ``Job.state_at`` decides it."""
        state = case(
            (jobs.c.retries_left <= 0, JobState.FAILED.value),
            (
                and_(jobs.c.lock_owner.is_not(None), jobs.c.lock_expires_at > now),
                JobState.CLAIMED.value,
            ),
            (jobs.c.due_at > now, JobState.SCHEDULED.value),
            else_=JobState.DUE.value,
        )
        with self._read() as conn:
            counted: dict[str, int] = {
                name: count
                for name, count in conn.execute(select(state, func.count()).group_by(state))
            }
        return {each: counted.get(each.value, 0) for each in JobState}

    def next_due_at(self) -> datetime | None:
        """The earliest due time of an unlocked job with retries left, or ``None``."""
        with self._read() as conn:
            return conn.scalar(
                select(jobs.c.due_at)
                .where(jobs.c.lock_owner.is_(None), CLAIMABLE)
                .order_by(jobs.c.due_at)
                .limit(1)
            )

    # -- subscriptions and messages --------------------------------------------------------------
    def find_subscriptions(
        self, kind: SubscriptionKind, name: str, correlation_key: str | None = None
    ) -> list[Subscription]:
        """Open subscriptions by kind and name (and, for messages, correlation key when given)."""
        query = (
            select(subscriptions)
            .where(subscriptions.c.kind == kind.value, subscriptions.c.name == name)
            .order_by(subscriptions.c.id)
        )
        if correlation_key is not None:
            query = query.where(subscriptions.c.correlation_key == correlation_key)
        with self._read() as conn:
            return [rows.subscription_from_row(row) for row in conn.execute(query)]

    def list_subscriptions(self, instance_id: str) -> list[Subscription]:
        """The open subscriptions of one instance, by id."""
        query = (
            select(subscriptions)
            .where(subscriptions.c.instance_id == instance_id)
            .order_by(subscriptions.c.id)
        )
        with self._read() as conn:
            return [rows.subscription_from_row(row) for row in conn.execute(query)]

    def buffer_message(self, message: BufferedMessage) -> Subscription | None:
        """Keep a message until it expires, unless a subscription waits for it: then return
        that subscription and keep nothing (see ``Store.buffer_message``)."""
        key = message.correlation_key
        with self._write() as conn:
            self._lock_messages(
                DriverWrites(driver_cursor(conn), self._statements), [(message.name, key)]
            )
            query = _KEYLESS_SUBSCRIPTION if key is None else _KEYED_SUBSCRIPTION
            row = conn.execute(query, {"b_name": message.name, "b_key": key}).first()
            if row is not None:
                return rows.subscription_from_row(row)
            conn.execute(insert(buffered_messages), [rows.message_values(message)])
            return None

    def take_buffered_messages(
        self, name: str, correlation_key: str | None, now: datetime
    ) -> list[BufferedMessage]:
        """Unexpired buffered messages with that name and key, oldest first (not deleted:
        the checkpoint that delivers one names it in ``consumed_message_ids``)."""
        query = _KEYLESS_MESSAGES if correlation_key is None else _KEYED_MESSAGES
        with self._read() as conn:
            return [
                rows.message_from_row(row)
                for row in conn.execute(
                    query, {"b_name": name, "b_now": now, "b_key": correlation_key}
                )
            ]

    def lost_wake_ups(self, now: datetime) -> list[Subscription]:
        """Open message subscriptions beside an unexpired buffered message for them."""
        if not self._exists(_ANY_BUFFERED, {"b_now": now}):
            return []
        with self._read() as conn:
            return [
                rows.subscription_from_row(row)
                for row in conn.execute(_LOST_WAKE_UPS, {"b_now": now})
            ]

    def purge_expired_messages(self, now: datetime) -> int:
        """Delete buffered messages past their time-to-live; returns how many. Looks first, so
        that ``run()`` opens no write transaction when none has expired, the usual case."""
        if not self._exists(_ANY_EXPIRED, {"b_now": now}):
            return 0
        with self._write() as conn:
            return conn.execute(
                delete(buffered_messages).where(buffered_messages.c.expires_at <= now)
            ).rowcount

    # -- user tasks, incidents, history ----------------------------------------------------------
    def list_user_tasks(
        self,
        *,
        instance_id: str | None = None,
        assignee: str | None = None,
        candidate_group: str | None = None,
    ) -> list[UserTask]:
        """Open user tasks matching every given filter, oldest first."""
        query = select(user_tasks).order_by(user_tasks.c.created_at, user_tasks.c.id)
        if instance_id is not None:
            query = query.where(user_tasks.c.instance_id == instance_id)
        if assignee is not None:
            query = query.where(user_tasks.c.assignee == assignee)
        if candidate_group is not None:
            query = query.join(
                user_task_groups,
                (user_task_groups.c.task_id == user_tasks.c.id)
                & (user_task_groups.c.group_name == candidate_group),
            )
        with self._read() as conn:
            return [rows.user_task_from_row(row) for row in conn.execute(query)]

    def get_user_task(self, task_id: str) -> UserTask:
        """One open user task; ``NotFoundError`` if none."""
        with self._read() as conn:
            row = conn.execute(select(user_tasks).where(user_tasks.c.id == task_id)).first()
        if row is None:
            raise errors.user_task_not_found(task_id)
        return rows.user_task_from_row(row)

    def list_incidents(self, *, instance_id: str | None = None) -> list[Incident]:
        """Open incidents, oldest first."""
        query = (
            select(incidents)
            .where(incidents.c.resolved_at.is_(None))
            .order_by(incidents.c.created_at, incidents.c.id)
        )
        if instance_id is not None:
            query = query.where(incidents.c.instance_id == instance_id)
        with self._read() as conn:
            return [rows.incident_from_row(row) for row in conn.execute(query)]

    def history(self, instance_id: str) -> list[HistoryEvent]:
        """Every history event of an instance, in the order they were appended."""
        query = union_all(
            _INSTANCE_HISTORY.where(instances.c.id == instance_id),
            _OWNER_HISTORY.where(history_table.c.owner_id == instance_id),
        ).order_by("seq")
        with self._read() as conn:
            return [rows.history_from_row(row) for row in conn.execute(query)]

    def all_history(self, *, definition_id: str | None = None) -> Iterator[HistoryEvent]:
        """History across instances (for KPIs and coverage), in append order.

        Read lazily in chunks, each its own short transaction, so a long export neither holds
        the whole table in memory nor keeps a transaction open between chunks.
        """
        after = 0
        while True:
            query = (
                _HISTORY.where(history_table.c.seq > after)
                .order_by(history_table.c.seq)
                .limit(_HISTORY_CHUNK)
            )
            if definition_id is not None:
                query = query.where(_EVENT_DEFINITION.in_([definition_id]))
            with self._read() as conn:
                chunk = conn.execute(query).all()
            yield from (rows.history_from_row(row) for row in chunk)
            if len(chunk) < _HISTORY_CHUNK:
                return
            after = chunk[-1].seq

    def history_by_instance(
        self, *, definition_ids: Collection[str] | None = None, since: datetime | None = None
    ) -> Iterator[HistoryEvent]:
        """History grouped by instance, in id order.

        Keyset pages in ``(instance id, seq)`` order, each its own short transaction, as
        ``all_history`` reads: memory stays at one page whatever the table's size. The
        instances' rows come through their id index and ``ix_history_instance``, the rare rows
        of no instance through ``ix_history_owner``; the two are merged in id order.
        """
        conditions: list[ColumnElement[bool]] = []
        if definition_ids is not None:
            conditions.append(_EVENT_DEFINITION.in_(list(definition_ids)))
        if since is not None:
            conditions.append(history_table.c.at >= rows.micros(since))
        return heapq.merge(
            self._history_pages(_INSTANCE_HISTORY.where(*conditions), instances.c.id),
            self._history_pages(_OWNER_HISTORY.where(*conditions), history_table.c.owner_id),
            key=lambda event: (event.instance_id, event.seq),
        )

    def _history_pages(
        self, query: Select[Any], instance_id: ColumnElement[Any]
    ) -> Iterator[HistoryEvent]:
        """The rows ``query`` selects in ``(instance_id, seq)`` order, a page at a time."""
        seq = history_table.c.seq
        after: tuple[str, int] | None = None
        while True:
            page = query.order_by(instance_id, seq).limit(_HISTORY_CHUNK)
            if after is not None:
                # The first term lets the database start at ``after`` in the id index.
                page = page.where(
                    instance_id >= after[0], or_(instance_id > after[0], seq > after[1])
                )
            with self._read() as conn:
                chunk = conn.execute(page).all()
            yield from (rows.history_from_row(row) for row in chunk)
            if len(chunk) < _HISTORY_CHUNK:
                return
            after = (chunk[-1].instance_id, chunk[-1].seq)

    def step_history(
        self, *, process_id: str | None = None, started_from: datetime | None = None
    ) -> Iterator[StepEvent]:
        """KPI events of the instances of ``process_id`` started at or after
        ``started_from``, in append order.

        One statement: the instances come from their ``(process_id, started_at)`` (or
        ``started_at``) index and their rows from ``ix_history_instance``, so a recent window
        reads only its own instances' history. Run on the driver's cursor and fetched in
        batches: SQLAlchemy's row and type machinery cost three times the driver's reading
        (measured on SQLite), and a KPI pass reads hundreds of thousands of rows.
        """
        query = (
            select(
                history_table.c.seq,
                instances.c.id,
                history_table.c.kind,
                history_table.c.at,
                history_table.c.element_id,
                history_table.c.element_type,
                history_table.c.process_id,
                instances.c.process_id,
            )
            .join(instances, instances.c.number == history_table.c.instance)
            # Compared one by one: an IN list expands at execution, which the driver cannot do.
            .where(
                or_(
                    *(
                        history_table.c.kind == code
                        for code in sorted(map(rows.kind_code, STEP_KINDS))
                    )
                )
            )
            .order_by(history_table.c.seq)
        )
        if process_id is not None:
            query = query.where(instances.c.process_id == process_id)
        if started_from is not None:
            query = query.where(instances.c.started_at >= started_from)
        statement = PreparedStatement(query, self._engine.dialect)
        kinds, element_type, when = (
            rows.KINDS_BY_CODE,
            rows.element_type_from_code,
            rows.from_micros,
        )
        with self._read() as conn:
            cursor = statement.execute(driver_cursor(conn), {})
            while chunk := cursor.fetchmany(_HISTORY_CHUNK):
                for seq, instance_id, kind, at, element_id, tag, stored, own in chunk:
                    yield StepEvent(
                        seq,
                        instance_id,
                        kinds[kind],
                        when(at),
                        element_id,
                        element_type(tag),
                        rows.stored_process(stored, own),
                    )

    # -- access tokens ---------------------------------------------------------------------------
    def save_token(self, token: ApiToken) -> None:
        """Store a new token; a name already taken is refused."""
        with self._write() as conn:
            try:
                conn.execute(insert(api_tokens), [rows.token_values(token)])
            except IntegrityError as error:
                raise errors.token_exists(token.name) from error

    def find_token(self, token_hash: str) -> ApiToken | None:
        """The token with that hash, or ``None``."""
        with self._read() as conn:
            row = conn.execute(
                select(api_tokens).where(api_tokens.c.token_hash == token_hash)
            ).first()
        return None if row is None else rows.token_from_row(row)

    def list_tokens(self) -> list[ApiToken]:
        """Every stored token, by name."""
        with self._read() as conn:
            found = conn.execute(select(api_tokens).order_by(api_tokens.c.name)).all()
        return [rows.token_from_row(row) for row in found]

    def revoke_token(self, name: str) -> None:
        """Delete the token named ``name``; ``NotFoundError`` when there is none."""
        with self._write() as conn:
            deleted = conn.execute(delete(api_tokens).where(api_tokens.c.name == name))
            if deleted.rowcount == 0:
                raise errors.no_token(name)

    def close(self) -> None:
        """Release connections and files (and the liveness locks: the claims still held wait
        for their leases)."""
        if self._liveness is not None:
            self._liveness.close()
        self._connections.close()
        self._engine.dispose()


def _json(value: Any) -> str:
    """JSON columns (variables, history, lists of names) in the variable codec's form, so a
    variable reads back with the type it was written with."""
    return orjson.dumps(encode(value)).decode()


def _from_json(text: str | bytes) -> Any:
    return decode(orjson.loads(text))


def _id_set(aggregated: list[str] | str | None) -> frozenset[str]:
    """Ids as ``_LOAD_STATE`` aggregates them: a PostgreSQL array, or SQLite's JSON list."""
    if isinstance(aggregated, str):
        return frozenset(orjson.loads(aggregated))
    return frozenset(aggregated or ())


# What a ``durability`` setting may say, typed: a URL's query gives plain text.
_DURABILITIES: dict[str, Durability] = {"normal": "normal", "full": "full"}


def _durability(url: str, requested: Durability | None) -> tuple[str, Durability]:
    """The URL without its ``durability`` parameter (no driver knows it), and the durability:
    ``requested`` if given, else the URL's, else ``"normal"``."""
    parsed = make_url(url)
    in_url = parsed.query.get("durability")
    chosen = requested or in_url or "normal"
    if isinstance(chosen, tuple):
        raise RetailflowError(f"durability is given {len(chosen)} times in the database URL")
    durability = _DURABILITIES.get(chosen)
    if durability is None:
        raise RetailflowError(
            f"durability {chosen!r} is not one of 'normal' (survives a crash of the process) "
            "or 'full' (survives a power loss too)"
        )
    if durability == "full" and _is_sqlite_memory(url):
        raise RetailflowError(
            "durability='full' needs a database file: an in-memory SQLite database survives "
            "nothing; use sqlite:///path/to/file.db"
        )
    if in_url is not None:
        url = parsed.difference_update_query(["durability"]).render_as_string(hide_password=False)
    return url, durability


def _create_engine(url: str, *, set_up: bool = False, durability: Durability = "normal") -> Engine:
    """An engine configured for retailflow's transactions on the URL's database; ``set_up``
    also puts a SQLite file in WAL mode (a setting the file keeps), which a store opened only
    to look at or to operate on an existing database does not change."""
    parsed, schema = split_schema(make_url(url))
    if parsed.get_backend_name() != "sqlite":
        try:
            # No pre-ping: it would cost a round trip per transaction. A connection the server
            # closed (a restart, pg_terminate_backend) fails its transaction instead, as
            # StoreUnavailableError, which callers retry. Then every pooled connection older
            # than the failure is replaced on checkout (by SQLAlchemy for Core statements, by
            # prepared.driver_transaction for the commit's), so the retry finds a live one.
            served = create_engine(parsed, json_serializer=_json, json_deserializer=_from_json)
        except (ImportError, NoSuchModuleError) as error:
            raise RetailflowError(
                f"no database driver for {make_url(url).drivername} ({error}): retailflow "
                "runs on SQLite (sqlite:///file.db) and PostgreSQL "
                "(postgresql+psycopg://..., pip install 'retailflow[postgres]')"
            ) from error
        if schema is not None:
            search_only(served, schema)
        if durability == "full":

            @event.listens_for(served, "connect")
            def wait_for_the_disk(dbapi_connection: Any, _record: Any) -> None:
                # The server's default, unless an administrator turned it off: a commit
                # returns once its WAL record is flushed to disk.
                with dbapi_connection.cursor() as cursor:
                    cursor.execute("SET synchronous_commit = on")
                dbapi_connection.commit()

        return served
    in_memory = _is_sqlite_memory(url)
    if in_memory:
        # One connection shared by all threads: every pooled connection to ":memory:" would
        # otherwise open a database of its own.
        engine = create_engine(
            url,
            poolclass=StaticPool,
            json_serializer=_json,
            json_deserializer=_from_json,
            connect_args={"check_same_thread": False},
        )
    else:
        engine = create_engine(url, json_serializer=_json, json_deserializer=_from_json)

    @event.listens_for(engine, "connect")
    def configure(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling would defer BEGIN and break BEGIN IMMEDIATE;
        # ``SqlStore._write`` begins every write transaction itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            # WAL lets readers run beside the single writer. NORMAL syncs at WAL checkpoints
            # only: a commit survives a crash of the process (the WAL is in the OS's hands)
            # and the database is never corrupted, but a power loss may take back the last
            # commits. FULL syncs the WAL at every commit: it survives a power loss too.
            if set_up:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={durability.upper()}")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.close()

    return engine


@contextmanager
def _store_errors(where: str) -> Iterator[None]:
    """SQLAlchemy's errors as retailflow's, so none reaches a user:

    - the database cannot be reached, dropped the connection, is busy, or the pool has no
      connection free: ``StoreUnavailableError``, which workers wait out;
    - a deadlock or serialization failure: ``ConcurrentUpdateError`` (the engine re-reads and
      re-applies its step);
    - anything else the database refuses: ``RetailflowError`` with the driver's message;
    - a value the store refuses (a naive datetime) raises its own ``ValueError``, as in
      ``MemoryStore``.

    ``where`` is the database as messages name it (``_shown``).
    """
    try:
        yield
    except PoolTimeoutError as error:
        raise StoreUnavailableError(
            f"no connection to {where} came free in time ({error}); more threads use the store "
            "than its pool holds: lower the concurrency or raise the pool size"
        ) from error
    except DBAPIError as error:
        cause = error.orig or error
        detail = f"{type(cause).__name__}: {str(cause).strip()}"
        if error.connection_invalidated or _is_outage(error):
            raise StoreUnavailableError(
                f"the database at {where} is unavailable ({detail}); the operation did not "
                "take effect, try again when it answers"
            ) from error
        if getattr(cause, "sqlstate", None) in _CONFLICT_STATES:
            raise ConcurrentUpdateError(
                f"the database aborted the transaction to resolve a conflict ({detail}); try again"
            ) from error
        raise RetailflowError(f"the database at {where} refused the operation: {detail}") from error
    except StatementError as error:
        if isinstance(error.orig, ValueError):
            raise error.orig from None
        raise


@contextmanager
def _opening(url: str) -> Iterator[None]:
    """A store's first connection. A database that cannot be opened at all when a store is
    created is a mistake in the URL far more often than an outage (a mistyped database name, a
    wrong host or port, a SQLite file in a folder that does not exist), and waiting it out
    would hide the mistake, so it fails at once with a ``RetailflowError`` that names the
    problem. Only a database that is there but busy stays ``StoreUnavailableError``, which a
    worker waits out at start. Once a store is open, every outage is waited out."""
    try:
        yield
    except StoreUnavailableError as error:
        cause = error.__cause__
        if not isinstance(cause, DBAPIError) or _is_busy(cause):
            raise
        raise RetailflowError(
            f"cannot open the database at {_shown(url)}: {' '.join(str(cause.orig).split())}; "
            f"{_opening_hint(make_url(url))}"
        ) from cause


def _opening_hint(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        folder = Path(url.database or ".").parent
        if not folder.is_dir():
            return f"the folder {folder} does not exist (retailflow creates the file, not folders)"
        return "check the file's path and permissions"
    return (
        "check the host, port, database name and credentials in the URL (a server that is not "
        "running yet is not waited for when a store is created: start it first)"
    )


def _shown(url: str) -> str:
    """The URL as an error message may show it: the password masked."""
    return make_url(url).render_as_string()


# PostgreSQL: connection exceptions (08...), and the server shutting down or starting (57P0x).
_OUTAGE_STATES = ("08", "57P01", "57P02", "57P03")
# PostgreSQL: serialization failure, deadlock.
_CONFLICT_STATES = frozenset({"40001", "40P01"})
# SQLite: a database file that another process holds locked past the busy timeout, or that
# cannot be opened or written.
_SQLITE_OUTAGES = ("database is locked", "unable to open database", "disk i/o error")


# Connection failures that say the database is there but cannot take one more connection now.
_BUSY = (
    "database is locked",
    "the database system is starting up",
    "the database system is shutting down",
    "too many clients",
    "remaining connection slots",
)


def _is_busy(error: DBAPIError) -> bool:
    return any(text in str(error.orig or error).lower() for text in _BUSY)


def _is_outage(error: DBAPIError) -> bool:
    """Whether the driver's error says the database is out of reach, not that it refused."""
    cause = error.orig
    if isinstance(cause, sqlite3.Error):
        return any(text in str(cause).lower() for text in _SQLITE_OUTAGES)
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is None:  # psycopg reports a failed or lost connection without a state
        return isinstance(error, OperationalError | InterfaceError)
    return str(sqlstate).startswith(_OUTAGE_STATES)


def _is_sqlite_memory(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def _sync_wait_states(tx: DriverWrites, checkpoint: Checkpoint) -> list[Subscription]:
    """Make the stored jobs, subscriptions and user tasks of an instance match the checkpoint's
    sets (as ``Checkpoint`` documents), touching only the rows that differ; returns the
    subscriptions it opened. The stored ids come from the checkpoint when the engine knows them
    (the version check has just proved them current), else from one read."""
    stored = checkpoint.stored
    if stored is None:
        stored = _stored_wait_states(tx, checkpoint.instance.id)
    _sync_jobs(tx, stored.jobs, checkpoint.jobs)
    if not (
        stored.subscriptions
        or stored.user_tasks
        or checkpoint.subscriptions
        or checkpoint.user_tasks
    ):
        return []  # a step between service tasks: nothing else to compare

    # Subscriptions and user tasks are immutable once open: only absent ones go.
    wanted_subscriptions = {s.id: s for s in checkpoint.subscriptions}
    wanted_tasks = {task.id: task for task in checkpoint.user_tasks}
    for gone in stored.subscriptions - wanted_subscriptions.keys():
        tx.execute(_DELETE_SUBSCRIPTION, {"b_id": gone})
    for gone in stored.user_tasks - wanted_tasks.keys():
        tx.execute(_DELETE_USER_TASK, {"b_id": gone})
        tx.execute(_DELETE_USER_TASK_GROUPS, {"b_id": gone})
    opened = [s for s_id, s in wanted_subscriptions.items() if s_id not in stored.subscriptions]
    _insert_wait_states(
        tx,
        opened,
        [task for task_id, task in wanted_tasks.items() if task_id not in stored.user_tasks],
    )
    return opened


def _stored_wait_states(tx: DriverWrites, instance_id: str) -> WaitStateIds:
    """The ids of the instance's stored jobs, subscriptions and user tasks: one read."""
    stored: dict[str, set[str]] = {"job": set(), "subscription": set(), "user_task": set()}
    for table_name, row_id in tx.execute(_WAIT_STATE_IDS, {"b_instance": instance_id}).fetchall():
        stored[table_name].add(row_id)
    return WaitStateIds(
        frozenset(stored["job"]),
        frozenset(stored["subscription"]),
        frozenset(stored["user_task"]),
    )


def _update_instance(tx: DriverWrites, checkpoint: Checkpoint, expected_version: int) -> None:
    """Write a step's instance row if its version is still ``expected_version``; else raise
    what refuses the step. On SQLite the status is set only when it changes
    (``_UPDATE_INSTANCE_SAME_STATUS``)."""
    instance = checkpoint.instance
    values = rows.instance_step_values(instance, checkpoint.state)
    values["b_id"], values["b_expected"] = instance.id, expected_version
    status = instance.status.value
    if tx.sqlite:
        values["b_status"] = status
        if tx.execute(_UPDATE_INSTANCE_SAME_STATUS, values).rowcount == 1:
            return
        del values["b_status"]
    values["status"] = status
    if tx.execute(_UPDATE_INSTANCE, values).rowcount != 1:
        raise _version_conflict(tx, instance.id, expected_version)


def _needs_savepoint(checkpoint: Checkpoint) -> bool:
    """Whether a group commit must wrap the checkpoint in a savepoint to undo its refusal:
    when ``SqlStore._apply`` consumes buffered messages (deleted before the version check),
    opens message subscriptions (checked against the buffer after its writes), or starts an
    instance (a duplicate id fails its INSERT, which aborts a PostgreSQL transaction). Any
    other step is refused by its first statements, the version-checked UPDATEs, which then
    changed nothing, or not at all: two statements (two round trips on PostgreSQL) saved per
    step."""
    return (
        checkpoint.expected_version is None
        or bool(checkpoint.consumed_message_ids)
        or any(
            subscription.kind == SubscriptionKind.MESSAGE
            for subscription in checkpoint.subscriptions
        )
    )


def _consume_messages(tx: DriverWrites, message_ids: Sequence[str]) -> None:
    """Delete the buffered messages a step delivered; if another step deleted one first (on
    PostgreSQL, a concurrent delete waits for that step's commit and then finds the row gone),
    refuse: each message wakes one instance."""
    if taken := [
        message_id
        for message_id in message_ids
        if tx.execute(_CONSUME_MESSAGE, {"b_id": message_id}).rowcount != 1
    ]:
        raise errors.messages_taken(taken)


def _sync_owner_jobs(tx: DriverWrites, owner: str, wanted: Sequence[Job]) -> None:
    """Make ``owner``'s jobs (a definition's timer-start schedule) the ``wanted`` set."""
    stored = {row_id for (row_id,) in tx.execute(_OWNER_JOB_IDS, {"b_instance": owner}).fetchall()}
    _sync_jobs(tx, stored, wanted)


def _sync_jobs(tx: DriverWrites, stored: AbstractSet[str], wanted: Sequence[Job]) -> None:
    """Absent jobs go (with the incidents of spent ones), new ones come. Jobs that remain are
    kept exactly as stored: their lock, attempt, retries and backoff belong to the workers and
    to fail_job/retry_job, never to another branch's step.

    On SQLite a gone job with retries left (so no incident) is overwritten by a new one, in one
    statement instead of a DELETE and an INSERT: a step of a chain of service tasks replaces
    its job so. Not on PostgreSQL, where a concurrent claim could re-read the rewritten row."""
    new = [rows.job_values(job) for job in wanted if job.id not in stored]
    for gone in stored - {job.id for job in wanted}:
        if new and tx.sqlite:
            replacement = {**new[-1], "b_id": gone}
            if tx.execute(_REPLACE_FREE_JOB, replacement).rowcount == 1:
                new.pop()
                continue
        deleted = tx.execute(_DELETE_JOB, {"b_id": gone}).fetchone()
        # An incident of a job that is gone (cancelled, its path left, its schedule retired)
        # is no longer actionable; the history keeps the incident_opened event.
        if deleted is not None and deleted[0]:
            tx.execute(_DELETE_JOB_INCIDENTS, {"b_id": gone})
    tx.executemany(_INSERT_JOBS, new)


def _insert_wait_states(
    tx: DriverWrites, new_subscriptions: Sequence[Subscription], new_tasks: Sequence[UserTask]
) -> None:
    """Insert new subscriptions and user tasks (jobs go through ``_sync_jobs``)."""
    tx.executemany(
        _INSERT_SUBSCRIPTIONS,
        [rows.subscription_values(subscription) for subscription in new_subscriptions],
    )
    if new_tasks:
        tx.executemany(_INSERT_USER_TASKS, [rows.user_task_values(task) for task in new_tasks])
        tx.executemany(
            _INSERT_USER_TASK_GROUPS,
            [group for task in new_tasks for group in rows.user_task_group_values(task)],
        )


def _append_history(tx: DriverWrites, events: Sequence[HistoryEvent]) -> None:
    tx.executemany(_INSERT_HISTORY, [rows.history_values(event) for event in events])


def _require_current_schema(conn: Connection, url: str) -> None:
    revision, head = current_revision(conn), head_revision()
    if revision != head:
        raise RetailflowError(
            f"the database at {make_url(url).render_as_string()} has schema revision "
            f"{revision or '(none)'}, this retailflow needs {head}: run "
            "`retailflow db upgrade --db URL` (or open the store with migrate=True)"
        )


def _version_conflict(tx: DriverWrites, instance_id: str, expected: int) -> RetailflowError:
    row = tx.execute(_INSTANCE_VERSION, {"b_id": instance_id}).fetchone()
    if row is None:
        return errors.instance_not_found(instance_id)
    stored = row[0]
    logger.debug(
        "version conflict",
        extra={"instance_id": instance_id, "expected": expected, "stored": stored},
    )
    return errors.stale_version(instance_id, stored, expected)
