"""The Store protocol: everything the engine persists, behind one interface.

The engine never writes piecemeal: every change of a running instance arrives as one
``Checkpoint`` that the store applies atomically (instance state, its jobs, subscriptions, user
tasks, incidents and history), guarded by the instance's version.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from retailflow.model import (
    ApiToken,
    BufferedMessage,
    HistoryEvent,
    Incident,
    Instance,
    InstanceQuery,
    InstanceStatus,
    Job,
    JobState,
    ProcessDefinition,
    Resource,
    RetailflowError,
    Subscription,
    SubscriptionKind,
    UserTask,
)
from retailflow.model.history import StepEvent

Durability = Literal["normal", "full"]
"""What a committed step survives, on a database store (``Engine(url, durability=...)`` or the
URL's ``?durability=``). ``"normal"`` (the default): a crash of the process, never a corrupt
database; on SQLite (WAL, ``synchronous=NORMAL``) a power loss or OS crash may take back the last
commits. ``"full"``: a power loss too; SQLite syncs its WAL at every commit
(``synchronous=FULL``), PostgreSQL waits for the WAL flush (``synchronous_commit=on``, which
``"normal"`` leaves as the server is configured)."""


@dataclass(frozen=True, slots=True)
class WaitStateIds:
    """The ids of an instance's jobs, subscriptions and user tasks, as one commit stored them."""

    jobs: frozenset[str] = frozenset()
    subscriptions: frozenset[str] = frozenset()
    user_tasks: frozenset[str] = frozenset()


@dataclass(slots=True)
class Checkpoint:
    """One atomic change of one instance, from a wait state to the next.

    ``jobs``, ``subscriptions`` and ``user_tasks`` are the instance's *complete* current sets: the
    store deletes rows of this instance that are absent (and the open incidents of deleted jobs),
    inserts new ones, and keeps remaining rows exactly as stored: a job's lock, attempt, retries
    and backoff belong to workers, ``fail_job`` and ``retry_job``, never to another branch's
    step. ``expected_version`` is ``None`` for a new instance; otherwise the store
    refuses (``ConcurrentUpdateError``) unless the stored version equals it, and stores
    ``instance.version`` (which the engine has already bumped).
    ``consumed_message_ids`` are buffered messages delivered by this step, deleted with it: if
    another step consumed one first, the store refuses (``ConcurrentUpdateError``), so that one
    message wakes one instance. A new message subscription for which an unexpired message (at
    ``now``) is buffered is refused too: the step missed the message and must be redone to
    deliver it (``buffer_message`` is the other half of this handshake).
    """

    instance: Instance
    state: bytes
    """The engine state of the instance; empty once it has completed or been cancelled."""
    expected_version: int | None
    jobs: list[Job] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    user_tasks: list[UserTask] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    history: list[HistoryEvent] = field(default_factory=list)
    consumed_message_ids: list[str] = field(default_factory=list)
    schedules: dict[str, list[Job]] = field(default_factory=dict)
    """Complete job sets of owners other than the instance, synced like ``jobs`` in the same
    transaction: a timer start event's schedule, owned by ``"definition:<id>"``, moves on in
    the very commit that creates the instance it started."""
    now: datetime | None = None
    """The time of the step, at which buffered messages count as unexpired; ``None``: every
    buffered message counts."""
    stored: WaitStateIds | None = None
    """The wait-state ids the commit at ``expected_version`` stored, when the engine knows them:
    the version check proves nothing changed them since (only versioned commits add or remove
    wait states), so a store may take them instead of reading them. ``None``: read them."""


class PendingJobs:
    """The jobs of instances whose steps wait, chained, for a group commit on a store that
    keeps nothing durable (``GroupCommit``), each with the commit that stores the chain: a
    write that names one (a failed attempt recorded, the job given back or dropped) commits
    the chain first, so it finds the job, and follows the chain's history, as a commit per
    step would have had it. Only writes from the thread that chained the steps do: another
    thread cannot name a job the chain created, and must not commit another engine's chain
    while that engine steps its runs."""

    def __init__(self) -> None:
        self._commit_first: dict[str, tuple[int, Callable[[], None]]] = {}

    def hold(self, job_ids: Iterable[str], commit: Callable[[], None]) -> None:
        """Remember that ``commit`` must come before a write naming one of ``job_ids``."""
        thread = threading.get_ident()
        for job_id in job_ids:
            self._commit_first[job_id] = (thread, commit)

    def forget(self, job_ids: Iterable[str]) -> None:
        """The jobs' chain is committed, or never will be: writes go to the store as they are."""
        for job_id in job_ids:
            self._commit_first.pop(job_id, None)

    def commit_before_write(self, job_id: str) -> None:
        """Commit the chain that holds ``job_id``, if one waits in this thread; call outside
        the store's lock, since the commit takes it."""
        held = self._commit_first.get(job_id)
        if held is not None and held[0] == threading.get_ident():
            held[1]()


class Store(Protocol):
    """Durable (or in-memory) home of deployments, instances, jobs and history.

    Every method is one transaction. Implementations: ``MemoryStore`` and ``SqlStore``.
    """

    @property
    def pending_jobs(self) -> PendingJobs | None:
        """``None`` on a durable store: ``run()`` commits each step of an instance before
        taking its next one, so every wait state is stored. A store that keeps nothing
        durable (``MemoryStore``: nothing survives the process anyway) gives ``PendingJobs``:
        ``run()`` then merges an instance's steps into one checkpoint per group commit, and
        the store commits that chain before any write that names a job it created."""

    # -- deployments -------------------------------------------------------------------------
    def save_definitions(
        self,
        resources: Sequence[Resource],
        definitions: Sequence[ProcessDefinition],
        schedules: Mapping[str, Sequence[Job]] | None = None,
    ) -> None:
        """Store new resources (skipping hashes already stored) and definitions, and sync the
        given owners' job sets (timer start events of new and retired versions), atomically."""

    def get_resource(self, content_hash: str) -> Resource:
        """The resource with that content hash; ``NotFoundError`` if none."""

    def get_definition(self, definition_id: str) -> ProcessDefinition:
        """One definition by id (``"process:version"``); ``NotFoundError`` if none."""

    def latest_definition(self, process_id: str) -> ProcessDefinition | None:
        """The highest version of a process id, or ``None``."""

    def list_definitions(self) -> list[ProcessDefinition]:
        """Every definition, ordered by process id then version."""

    # -- instances ---------------------------------------------------------------------------
    def commit(self, checkpoint: Checkpoint) -> None:
        """Apply a checkpoint atomically; ``ConcurrentUpdateError`` on a version mismatch."""

    def commit_many(self, checkpoints: Sequence[Checkpoint]) -> list[RetailflowError | None]:
        """Apply checkpoints of different instances in one transaction (group commit), each on
        its own: one refused (``ConcurrentUpdateError`` or ``NotFoundError``, returned at its
        position; ``None`` for a checkpoint applied) leaves the others to commit. Any other
        failure raises, and none is applied."""

    def get_instance(self, instance_id: str) -> Instance:
        """One instance; ``NotFoundError`` if none."""

    def load_state(self, instance_id: str) -> tuple[Instance, bytes, WaitStateIds]:
        """The instance, its serialized engine state and the ids of its stored wait states,
        read together (one snapshot): the engine passes the ids back as ``Checkpoint.stored``
        and knows which jobs its next step creates, to claim them in the same commit."""

    def list_instances(
        self,
        *,
        status: InstanceStatus | None = None,
        process_id: str | None = None,
        business_key: str | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[Instance]:
        """Instances matching every given filter, oldest first (by start, then id); ``after``
        (an instance id) pages: only instances that come after it in that order, so a listing
        resumes where its last page ended however many instances start meanwhile.
        ``NotFoundError`` if ``after`` names no instance."""

    def search_instances(self, query: InstanceQuery) -> list[Instance]:
        """One page of the instances ``query`` selects (see ``InstanceQuery``): an index range
        read on the SQL store whatever the table's size. ``NotFoundError`` if ``query.after``
        names no instance."""

    def count_instances(self) -> dict[tuple[str, InstanceStatus], int]:
        """How many instances each process (by id) has in each status."""

    # -- jobs --------------------------------------------------------------------------------
    def claim_due_jobs(
        self, *, now: datetime, owner: str, lease_until: datetime, limit: int
    ) -> list[Job]:
        """Lock up to ``limit`` due jobs for ``owner``: due_at <= now, retries_left > 0, and not
        locked (or lock expired). Claimed jobs carry the new lock and ``attempt`` + 1."""

    def release_job(self, job_id: str, *, owner: str) -> None:
        """Give a claimed job back unchanged (e.g. when a worker shuts down)."""

    def drop_job(self, job_id: str, *, owner: str) -> None:
        """Delete a job ``owner`` holds that no longer belongs to a waiting task of its
        instance (left behind by a defect): given back, it would be claimed again at once."""

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
        when given; one transaction."""

    def retry_job(
        self, job_id: str, *, retries_left: int, due_at: datetime, history: Sequence[HistoryEvent]
    ) -> None:
        """Give a job new retries and a due time, and resolve its open incidents; one
        transaction. ``NotFoundError`` if the job does not exist."""

    def get_job(self, job_id: str) -> Job:
        """One job; ``NotFoundError`` if none."""

    def list_jobs(self, *, instance_id: str | None = None) -> list[Job]:
        """Jobs, optionally of one instance, ordered by due time."""

    def count_jobs(self, now: datetime) -> dict[JobState, int]:
        """How many jobs are in each state at ``now`` (``Job.state_at``), counted by the store
        without reading the rows out: what a metrics scrape asks every few seconds."""

    def next_due_at(self) -> datetime | None:
        """The earliest due time of an unlocked job with retries left, or ``None``."""

    # -- subscriptions and messages ----------------------------------------------------------
    def find_subscriptions(
        self, kind: SubscriptionKind, name: str, correlation_key: str | None = None
    ) -> list[Subscription]:
        """Open subscriptions by kind and name (and, for messages, correlation key when given)."""

    def list_subscriptions(self, instance_id: str) -> list[Subscription]:
        """The open subscriptions of one instance, by id."""

    def buffer_message(self, message: BufferedMessage) -> Subscription | None:
        """Keep a message until it expires, unless a message subscription with its name and
        key (keyless only for a keyless message) is open: then return the first such (by id)
        and keep nothing. One transaction, serialised with the commits that open
        subscriptions, so a message and a subscription opened together always meet."""

    def take_buffered_messages(
        self, name: str, correlation_key: str | None, now: datetime
    ) -> list[BufferedMessage]:
        """Unexpired buffered messages with that name and key, oldest first (not deleted:
        the checkpoint that delivers one names it in ``consumed_message_ids``)."""

    def lost_wake_ups(self, now: datetime) -> list[Subscription]:
        """Open message subscriptions for which a message (unexpired at ``now``) is buffered,
        by id. Commits and ``buffer_message`` never leave such a pair behind; this finds those
        an older retailflow left, so that ``run()`` delivers them."""

    def purge_expired_messages(self, now: datetime) -> int:
        """Delete buffered messages past their time-to-live; returns how many."""

    # -- user tasks, incidents, history ------------------------------------------------------
    def list_user_tasks(
        self,
        *,
        instance_id: str | None = None,
        assignee: str | None = None,
        candidate_group: str | None = None,
    ) -> list[UserTask]:
        """Open user tasks matching every given filter, oldest first."""

    def get_user_task(self, task_id: str) -> UserTask:
        """One open user task; ``NotFoundError`` if none."""

    def list_incidents(self, *, instance_id: str | None = None) -> list[Incident]:
        """Open incidents, oldest first."""

    def history(self, instance_id: str) -> list[HistoryEvent]:
        """Every history event of an instance, in the order they were appended."""

    def all_history(self, *, definition_id: str | None = None) -> Iterable[HistoryEvent]:
        """History across instances (for KPIs and coverage), in append order."""

    def history_by_instance(
        self, *, definition_ids: Collection[str] | None = None, since: datetime | None = None
    ) -> Iterator[HistoryEvent]:
        """History grouped by instance (instances in id order, each one's events in append
        order), for event-log exports: only instances of ``definition_ids`` when given, only
        events at or after ``since``. Read in batches, so any size streams."""

    def step_history(
        self, *, process_id: str | None = None, started_from: datetime | None = None
    ) -> Iterator[StepEvent]:
        """What KPIs pair and count, in append order: the ``element_entered``,
        ``element_completed`` and ``incident_opened`` events of the instances of
        ``process_id`` (every process when ``None``) started at or after ``started_from``, as
        ``StepEvent`` tuples. The SQL store reads them through the instances' start index, so
        a recent window costs its own instances, not the table."""

    # -- access tokens -----------------------------------------------------------------------
    def save_token(self, token: ApiToken) -> None:
        """Store a new cockpit/API token (its hash only); a name already taken is refused."""

    def find_token(self, token_hash: str) -> ApiToken | None:
        """The token with that hash, or ``None``."""

    def list_tokens(self) -> list[ApiToken]:
        """Every stored token, by name."""

    def revoke_token(self, name: str) -> None:
        """Delete the token named ``name``, so it authenticates nothing from now on;
        ``NotFoundError`` when there is none."""

    def close(self) -> None:
        """Release connections and files."""
