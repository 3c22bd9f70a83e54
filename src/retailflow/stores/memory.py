"""``MemoryStore``: the ``Store`` protocol in dicts, for tests, the demo and benchmarks.

It sits on the engine's hot path in benchmarks, so ``commit`` and ``claim_due_jobs`` cost in
proportion to what changed, never to how much is stored: jobs are indexed by instance, and due
jobs wait in heaps whose stale entries are skipped (and compacted) rather than searched for.
Everything that goes in or comes out is copied, so a caller that goes on mutating an
``Instance`` or ``Job`` it committed or read never changes stored state. Nothing survives the
process, so ``run()`` chains an instance's steps into one commit (``pending_jobs``).
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Iterator, KeysView, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

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
    Subscription,
    SubscriptionKind,
    UserTask,
)
from retailflow.model.history import STEP_KINDS, StepEvent
from retailflow.model.variables import decode, encode
from retailflow.stores import errors
from retailflow.stores.base import Checkpoint, PendingJobs, WaitStateIds

# A heap may hold this many stale entries per live job before it is rebuilt.
_STALE_ENTRIES_PER_JOB = 2
_HeapEntry = tuple[datetime, str, int]


class _Index:
    """Ids grouped by a key, in insertion order."""

    def __init__(self) -> None:
        self._ids: dict[Hashable, dict[str, None]] = {}

    def add(self, key: Hashable, item_id: str) -> None:
        self._ids.setdefault(key, {})[item_id] = None

    def remove(self, key: Hashable, item_id: str) -> None:
        ids = self._ids.get(key)
        if ids is not None:
            ids.pop(item_id, None)
            if not ids:
                del self._ids[key]

    def get(self, key: Hashable) -> KeysView[str]:
        return self._ids.get(key, {}).keys()


class MemoryStore:
    """Everything in dicts behind one lock; nothing survives the process."""

    def __init__(self) -> None:
        # Nothing here survives the process, so ``run()`` may chain an instance's steps.
        self.pending_jobs = PendingJobs()
        self._lock = threading.Lock()
        self._resources: dict[str, Resource] = {}
        self._definitions: dict[str, ProcessDefinition] = {}
        self._latest: dict[str, ProcessDefinition] = {}
        self._instances: dict[str, tuple[Instance, bytes]] = {}
        self._jobs: dict[str, Job] = {}
        self._jobs_of = _Index()
        # Every change of a job gets a fresh stamp; a heap entry with an older stamp is stale.
        self._job_stamps: dict[str, int] = {}
        self._stamps = itertools.count()
        self._claimable: list[_HeapEntry] = []  # (when it can next be claimed, id, stamp)
        self._unlocked: list[_HeapEntry] = []  # (due_at, id, stamp) of unlocked jobs
        self._subscriptions: dict[str, Subscription] = {}
        self._subscriptions_of = _Index()
        self._subscriptions_named = _Index()
        self._subscriptions_keyed = _Index()
        self._messages: dict[str, BufferedMessage] = {}
        self._messages_keyed = _Index()
        self._tasks: dict[str, UserTask] = {}
        self._tasks_of = _Index()
        self._tasks_assigned = _Index()
        self._tasks_offered = _Index()  # by candidate group
        self._open_incidents: dict[str, Incident] = {}
        self._history: list[HistoryEvent] = []
        self._history_of: dict[str, list[HistoryEvent]] = {}
        self._history_defined: dict[str, list[HistoryEvent]] = {}
        self._tokens: dict[str, ApiToken] = {}

    # -- deployments -----------------------------------------------------------------------------
    def save_definitions(
        self,
        resources: Sequence[Resource],
        definitions: Sequence[ProcessDefinition],
        schedules: Mapping[str, Sequence[Job]] | None = None,
    ) -> None:
        """Store new resources (skipping hashes already stored) and definitions, and sync the
        given owners' job sets, atomically."""
        with self._lock:
            if taken := [d.id for d in definitions if d.id in self._definitions]:
                raise errors.definitions_exist(taken)
            for owner, jobs in (schedules or {}).items():
                self._sync_jobs(owner, list(jobs))
            for resource in resources:
                self._resources.setdefault(resource.content_hash, resource)
            for definition in definitions:
                self._definitions[definition.id] = definition
                latest = self._latest.get(definition.process_id)
                if latest is None or latest.version < definition.version:
                    self._latest[definition.process_id] = definition

    def get_resource(self, content_hash: str) -> Resource:
        """The resource with that content hash; ``NotFoundError`` if none."""
        with self._lock:
            resource = self._resources.get(content_hash)
        if resource is None:
            raise errors.resource_not_found(content_hash)
        return resource

    def get_definition(self, definition_id: str) -> ProcessDefinition:
        """One definition by id (``"process:version"``); ``NotFoundError`` if none."""
        with self._lock:
            definition = self._definitions.get(definition_id)
        if definition is None:
            raise errors.definition_not_found(definition_id)
        return definition

    def latest_definition(self, process_id: str) -> ProcessDefinition | None:
        """The highest version of a process id, or ``None``."""
        with self._lock:
            return self._latest.get(process_id)

    def list_definitions(self) -> list[ProcessDefinition]:
        """Every definition, ordered by process id then version."""
        with self._lock:
            found = list(self._definitions.values())
        return sorted(found, key=lambda d: (d.process_id, d.version))

    # -- instances -------------------------------------------------------------------------------
    def commit_many(self, checkpoints: Sequence[Checkpoint]) -> list[RetailflowError | None]:
        """Apply checkpoints one by one, each refused on its own (see ``Store.commit_many``)."""
        outcomes: list[RetailflowError | None] = []
        for checkpoint in checkpoints:
            try:
                self.commit(checkpoint)
            except (ConcurrentUpdateError, NotFoundError) as refused:
                outcomes.append(refused)
            else:
                outcomes.append(None)
        return outcomes

    def commit(self, checkpoint: Checkpoint) -> None:
        """Apply a checkpoint atomically; ``ConcurrentUpdateError`` on a version mismatch."""
        instance = checkpoint.instance
        with self._lock:
            stored = self._instances.get(instance.id)
            if checkpoint.expected_version is None:
                if stored is not None:
                    raise errors.instance_exists(instance.id)
            elif stored is None:
                raise errors.instance_not_found(instance.id)
            elif stored[0].version != checkpoint.expected_version:
                raise errors.stale_version(
                    instance.id, stored[0].version, checkpoint.expected_version
                )
            for job in checkpoint.jobs:
                errors.require_aware(job.due_at)
            self._check_messages(checkpoint)
            # Nothing below can fail: the checkpoint applies whole.
            self._instances[instance.id] = (_kept(instance), checkpoint.state)
            self._sync_jobs(instance.id, checkpoint.jobs)
            for owner, jobs in checkpoint.schedules.items():
                self._sync_jobs(owner, jobs)
            self._sync_subscriptions(instance.id, checkpoint.subscriptions)
            self._sync_user_tasks(instance.id, checkpoint.user_tasks)
            for incident in checkpoint.incidents:
                self._open_incidents[incident.id] = incident
            self._append_history(checkpoint.history)
            for message_id in checkpoint.consumed_message_ids:
                message = self._messages.pop(message_id)
                self._messages_keyed.remove((message.name, message.correlation_key), message_id)

    def _check_messages(self, checkpoint: Checkpoint) -> None:
        """Refuse a checkpoint that consumes a message another step took, or that opens a
        subscription a buffered message is waiting for (see ``Checkpoint``)."""
        if taken := [i for i in checkpoint.consumed_message_ids if i not in self._messages]:
            raise errors.messages_taken(taken)
        stored = self._subscriptions_of.get(checkpoint.instance.id)
        for subscription in checkpoint.subscriptions:
            if subscription.kind != SubscriptionKind.MESSAGE or subscription.id in stored:
                continue
            key = (subscription.name, subscription.correlation_key)
            if any(
                i not in checkpoint.consumed_message_ids
                and (checkpoint.now is None or self._messages[i].expires_at > checkpoint.now)
                for i in self._messages_keyed.get(key)
            ):
                raise errors.message_arrived(*key)

    def _sync_jobs(self, instance_id: str, wanted: list[Job]) -> None:
        """Remaining jobs are kept as stored (lock, attempt, retries, backoff); only new ones
        are added and absent ones removed, with their incidents."""
        wanted_ids = {job.id for job in wanted}
        for job_id in [i for i in self._jobs_of.get(instance_id) if i not in wanted_ids]:
            self._jobs_of.remove(instance_id, job_id)
            del self._jobs[job_id], self._job_stamps[job_id]
            for incident in [i for i in self._open_incidents.values() if i.job_id == job_id]:
                del self._open_incidents[incident.id]
        for job in wanted:
            if job.id not in self._jobs:
                self._jobs_of.add(instance_id, job.id)
                self._put_job(_copied(job))

    def _put_job(self, job: Job) -> None:
        """Store a job (already copied) and queue it for claims and ``next_due_at``."""
        stamp = next(self._stamps)
        self._jobs[job.id] = job
        self._job_stamps[job.id] = stamp
        if job.retries_left <= 0:
            return
        if job.lock_owner is None:
            heapq.heappush(self._claimable, (job.due_at, job.id, stamp))
            heapq.heappush(self._unlocked, (job.due_at, job.id, stamp))
        elif job.lock_expires_at is not None:
            heapq.heappush(self._claimable, (max(job.due_at, job.lock_expires_at), job.id, stamp))
        if (
            max(len(self._claimable), len(self._unlocked))
            > _STALE_ENTRIES_PER_JOB * len(self._jobs) + 64
        ):
            self._compact_heaps()

    def _compact_heaps(self) -> None:
        live = set(self._job_stamps.items())
        for heap in (self._claimable, self._unlocked):
            heap[:] = [entry for entry in heap if (entry[1], entry[2]) in live]
            heapq.heapify(heap)

    def _is_current(self, entry: _HeapEntry) -> bool:
        return self._job_stamps.get(entry[1]) == entry[2]

    # Subscriptions and user tasks are immutable once open: only absent ones go.
    def _sync_subscriptions(self, instance_id: str, wanted: list[Subscription]) -> None:
        wanted_ids = {subscription.id for subscription in wanted}
        for subscription_id in list(self._subscriptions_of.get(instance_id)):
            if subscription_id not in wanted_ids:
                gone = self._subscriptions.pop(subscription_id)
                self._subscriptions_of.remove(instance_id, subscription_id)
                self._subscriptions_named.remove((gone.kind, gone.name), subscription_id)
                self._subscriptions_keyed.remove(
                    (gone.kind, gone.name, gone.correlation_key), subscription_id
                )
        for subscription in wanted:
            if subscription.id not in self._subscriptions:
                self._subscriptions[subscription.id] = subscription
                self._subscriptions_of.add(instance_id, subscription.id)
                self._subscriptions_named.add(
                    (subscription.kind, subscription.name), subscription.id
                )
                self._subscriptions_keyed.add(
                    (subscription.kind, subscription.name, subscription.correlation_key),
                    subscription.id,
                )

    def _sync_user_tasks(self, instance_id: str, wanted: list[UserTask]) -> None:
        wanted_ids = {task.id for task in wanted}
        for task_id in list(self._tasks_of.get(instance_id)):
            if task_id not in wanted_ids:
                gone = self._tasks.pop(task_id)
                self._tasks_of.remove(instance_id, task_id)
                self._tasks_assigned.remove(gone.assignee, task_id)
                for group in gone.candidate_groups:
                    self._tasks_offered.remove(group, task_id)
        for task in wanted:
            if task.id not in self._tasks:
                self._tasks[task.id] = _kept(task)
                self._tasks_of.add(instance_id, task.id)
                self._tasks_assigned.add(task.assignee, task.id)
                for group in task.candidate_groups:
                    self._tasks_offered.add(group, task.id)

    def _append_history(self, events: Iterable[HistoryEvent]) -> None:
        for event in events:
            # One copy, not two (``_kept`` then the seq), and built field by field: every step
            # appends several rows, and ``dataclasses.replace`` costs as much again.
            stored = HistoryEvent(
                event.instance_id,
                event.definition_id,
                event.kind,
                event.at,
                element_id=event.element_id,
                element_type=event.element_type,
                attempt=event.attempt,
                job_id=event.job_id,
                variables=encode(event.variables) if event.variables else {},
                process_id=event.process_id,
                seq=len(self._history) + 1,
                actor=event.actor,
            )
            self._history.append(stored)
            self._history_of.setdefault(stored.instance_id, []).append(stored)
            self._history_defined.setdefault(stored.definition_id, []).append(stored)

    def get_instance(self, instance_id: str) -> Instance:
        """One instance; ``NotFoundError`` if none."""
        return self.load_state(instance_id)[0]

    def load_state(self, instance_id: str) -> tuple[Instance, bytes, WaitStateIds]:
        """The instance, its serialized engine state and its wait-state ids, read together."""
        with self._lock:
            stored = self._instances.get(instance_id)
            if stored is None:
                raise errors.instance_not_found(instance_id)
            ids = WaitStateIds(
                frozenset(self._jobs_of.get(instance_id)),
                frozenset(self._subscriptions_of.get(instance_id)),
                frozenset(self._tasks_of.get(instance_id)),
            )
        return _given(stored[0]), stored[1], ids

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
        """One page of the instances ``query`` selects (see ``InstanceQuery``)."""
        with self._lock:
            if query.after is not None and query.after not in self._instances:
                raise errors.instance_not_found(query.after)
            cursor = (
                None if query.after is None else _listing_order(self._instances[query.after][0])
            )
            found = [
                instance
                for instance, _ in self._instances.values()
                if _selects(query, instance)
                and (cursor is None or _beyond(_listing_order(instance), cursor, query))
            ]
        found.sort(key=_listing_order, reverse=query.newest_first)
        return [_given(instance) for instance in found[: query.limit]]

    def count_instances(self) -> dict[tuple[str, InstanceStatus], int]:
        """How many instances each process has in each status."""
        with self._lock:
            return dict(
                Counter(
                    (instance.process_id, instance.status)
                    for instance, _ in self._instances.values()
                )
            )

    # -- jobs ------------------------------------------------------------------------------------
    def claim_due_jobs(
        self, *, now: datetime, owner: str, lease_until: datetime, limit: int
    ) -> list[Job]:
        """Lock up to ``limit`` due jobs for ``owner``: due_at <= now, retries_left > 0, and not
        locked (or lock expired). Claimed jobs carry the new lock and ``attempt`` + 1."""
        claimed: list[Job] = []
        errors.require_aware(now)
        errors.require_aware(lease_until)
        with self._lock:
            heap = self._claimable
            while heap and len(claimed) < limit and heap[0][0] <= now:
                entry = heapq.heappop(heap)
                if not self._is_current(entry):
                    continue
                job = self._jobs[entry[1]]
                job = replace(
                    job, attempt=job.attempt + 1, lock_owner=owner, lock_expires_at=lease_until
                )
                self._put_job(job)
                claimed.append(_copied(job))
        return claimed

    def release_job(self, job_id: str, *, owner: str) -> None:
        """Give a claimed job back unchanged (e.g. when a worker shuts down).

        The claim is undone, attempt included: the handler never ran. A job no longer locked by
        ``owner`` is left alone, since another worker may hold it now.
        """
        self.pending_jobs.commit_before_write(job_id)
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None and job.lock_owner == owner:
                self._put_job(
                    replace(
                        job, lock_owner=None, lock_expires_at=None, attempt=max(job.attempt - 1, 0)
                    )
                )

    def drop_job(self, job_id: str, *, owner: str) -> None:
        """Delete a job ``owner`` holds that no longer belongs to a waiting task of its
        instance; one another worker holds now is left alone."""
        self.pending_jobs.commit_before_write(job_id)
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None and job.lock_owner == owner:
                self._jobs_of.remove(job.instance_id, job_id)
                del self._jobs[job_id], self._job_stamps[job_id]

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
        self.pending_jobs.commit_before_write(job_id)
        errors.require_aware(due_at)
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise errors.job_not_found(job_id)
            if job.lock_owner != owner:
                raise errors.lock_lost(job_id, owner, job.lock_owner)
            self._put_job(
                replace(
                    job,
                    lock_owner=None,
                    lock_expires_at=None,
                    last_error=error,
                    retries_left=retries_left,
                    due_at=due_at,
                )
            )
            if incident is not None:
                self._open_incidents[incident.id] = incident
            self._append_history(history)

    def retry_job(
        self, job_id: str, *, retries_left: int, due_at: datetime, history: Sequence[HistoryEvent]
    ) -> None:
        """Give a job new retries and a due time, and resolve its open incidents; one
        transaction. ``NotFoundError`` if the job does not exist."""
        self.pending_jobs.commit_before_write(job_id)
        errors.require_aware(due_at)
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise errors.job_not_found(job_id)
            self._put_job(replace(job, retries_left=retries_left, due_at=due_at))
            for incident in [i for i in self._open_incidents.values() if i.job_id == job_id]:
                del self._open_incidents[incident.id]
            self._append_history(history)

    def get_job(self, job_id: str) -> Job:
        """One job; ``NotFoundError`` if none."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise errors.job_not_found(job_id)
        return _copied(job)

    def list_jobs(self, *, instance_id: str | None = None) -> list[Job]:
        """Jobs, optionally of one instance, ordered by due time."""
        with self._lock:
            if instance_id is None:
                found = [_copied(job) for job in self._jobs.values()]
            else:
                found = [_copied(self._jobs[i]) for i in self._jobs_of.get(instance_id)]
        return sorted(found, key=lambda job: (job.due_at, job.id))

    def count_jobs(self, now: datetime) -> dict[JobState, int]:
        """How many jobs are in each state at ``now``."""
        with self._lock:
            counted = Counter(job.state_at(now) for job in self._jobs.values())
        return {state: counted[state] for state in JobState}

    def next_due_at(self) -> datetime | None:
        """The earliest due time of an unlocked job with retries left, or ``None``."""
        with self._lock:
            heap = self._unlocked
            while heap and not self._is_current(heap[0]):
                heapq.heappop(heap)
            return heap[0][0] if heap else None

    # -- subscriptions and messages --------------------------------------------------------------
    def find_subscriptions(
        self, kind: SubscriptionKind, name: str, correlation_key: str | None = None
    ) -> list[Subscription]:
        """Open subscriptions by kind and name (and, for messages, correlation key when given)."""
        with self._lock:
            ids = (
                self._subscriptions_named.get((kind, name))
                if correlation_key is None
                else self._subscriptions_keyed.get((kind, name, correlation_key))
            )
            return [self._subscriptions[i] for i in sorted(ids)]

    def list_subscriptions(self, instance_id: str) -> list[Subscription]:
        """The open subscriptions of one instance, by id."""
        with self._lock:
            return [self._subscriptions[i] for i in sorted(self._subscriptions_of.get(instance_id))]

    def buffer_message(self, message: BufferedMessage) -> Subscription | None:
        """Keep a message until it expires, unless a subscription waits for it: then return
        that subscription and keep nothing (see ``Store.buffer_message``)."""
        with self._lock:
            named = self._subscriptions_named.get((SubscriptionKind.MESSAGE, message.name))
            waiting = sorted(
                i
                for i in named
                if self._subscriptions[i].correlation_key == message.correlation_key
            )
            if waiting:
                return self._subscriptions[waiting[0]]
            self._messages[message.id] = _kept(message)
            self._messages_keyed.add((message.name, message.correlation_key), message.id)
            return None

    def take_buffered_messages(
        self, name: str, correlation_key: str | None, now: datetime
    ) -> list[BufferedMessage]:
        """Unexpired buffered messages with that name and key, oldest first (not deleted:
        the checkpoint that delivers one names it in ``consumed_message_ids``)."""
        with self._lock:
            found = [
                self._messages[i]
                for i in self._messages_keyed.get((name, correlation_key))
                if self._messages[i].expires_at > now
            ]
            found.sort(key=lambda message: (message.created_at, message.id))
            return [_given(message) for message in found]

    def lost_wake_ups(self, now: datetime) -> list[Subscription]:
        """Open message subscriptions beside an unexpired buffered message for them."""
        with self._lock:
            # Walks the buffer, not the subscriptions: run() asks every time, and the buffer
            # is usually empty while thousands of instances may wait.
            found = {
                i
                for m in self._messages.values()
                if m.expires_at > now
                for i in self._subscriptions_named.get((SubscriptionKind.MESSAGE, m.name))
                if self._subscriptions[i].correlation_key == m.correlation_key
            }
            return [self._subscriptions[i] for i in sorted(found)]

    def purge_expired_messages(self, now: datetime) -> int:
        """Delete buffered messages past their time-to-live; returns how many."""
        with self._lock:
            expired = [m for m in self._messages.values() if m.expires_at <= now]
            for message in expired:
                del self._messages[message.id]
                self._messages_keyed.remove((message.name, message.correlation_key), message.id)
        return len(expired)

    # -- user tasks, incidents, history ----------------------------------------------------------
    def list_user_tasks(
        self,
        *,
        instance_id: str | None = None,
        assignee: str | None = None,
        candidate_group: str | None = None,
    ) -> list[UserTask]:
        """Open user tasks matching every given filter, oldest first."""
        with self._lock:
            if instance_id is not None:
                ids: Iterable[str] = self._tasks_of.get(instance_id)
            elif assignee is not None:
                ids = self._tasks_assigned.get(assignee)
            elif candidate_group is not None:
                ids = self._tasks_offered.get(candidate_group)
            else:
                ids = self._tasks.keys()
            found = [
                task
                for task in map(self._tasks.__getitem__, ids)
                if (assignee is None or task.assignee == assignee)
                and (candidate_group is None or candidate_group in task.candidate_groups)
            ]
            found.sort(key=lambda task: (task.created_at, task.id))
            return [_given(task) for task in found]

    def get_user_task(self, task_id: str) -> UserTask:
        """One open user task; ``NotFoundError`` if none."""
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None:
            raise errors.user_task_not_found(task_id)
        return _given(task)

    def list_incidents(self, *, instance_id: str | None = None) -> list[Incident]:
        """Open incidents, oldest first."""
        with self._lock:
            found = [
                incident
                for incident in self._open_incidents.values()
                if instance_id is None or incident.instance_id == instance_id
            ]
        return sorted(found, key=lambda incident: (incident.created_at, incident.id))

    def history(self, instance_id: str) -> list[HistoryEvent]:
        """Every history event of an instance, in the order they were appended."""
        with self._lock:
            events = list(self._history_of.get(instance_id, ()))
        return [_given(event) for event in events]

    def all_history(self, *, definition_id: str | None = None) -> Iterable[HistoryEvent]:
        """History across instances (for KPIs and coverage), in append order."""
        with self._lock:
            events = list(
                self._history
                if definition_id is None
                else self._history_defined.get(definition_id, ())
            )
        return [_given(event) for event in events]

    def history_by_instance(
        self, *, definition_ids: Collection[str] | None = None, since: datetime | None = None
    ) -> Iterator[HistoryEvent]:
        """History grouped by instance, in id order; copied one instance at a time."""
        with self._lock:
            instance_ids = sorted(self._history_of)
        for instance_id in instance_ids:
            with self._lock:
                events = [
                    event
                    for event in self._history_of[instance_id]
                    if (definition_ids is None or event.definition_id in definition_ids)
                    and (since is None or event.at >= since)
                ]
            yield from (_given(event) for event in events)

    def step_history(
        self, *, process_id: str | None = None, started_from: datetime | None = None
    ) -> Iterator[StepEvent]:
        """KPI events of the instances of ``process_id`` started at or after
        ``started_from``, in append order."""
        with self._lock:
            chosen = {
                instance.id
                for instance, _state in self._instances.values()
                if (process_id is None or instance.process_id == process_id)
                and (started_from is None or instance.started_at >= started_from)
            }
            events = [
                StepEvent(
                    event.seq or 0,
                    event.instance_id,
                    event.kind,
                    event.at,
                    event.element_id,
                    event.element_type,
                    event.process_id,
                )
                for event in self._history
                if event.kind in STEP_KINDS and event.instance_id in chosen
            ]
        return iter(events)

    # -- access tokens ---------------------------------------------------------------------------
    def save_token(self, token: ApiToken) -> None:
        """Store a new token; a name already taken is refused."""
        with self._lock:
            if token.name in self._tokens:
                raise errors.token_exists(token.name)
            self._tokens[token.name] = token

    def find_token(self, token_hash: str) -> ApiToken | None:
        """The token with that hash, or ``None``."""
        with self._lock:
            return next((t for t in self._tokens.values() if t.token_hash == token_hash), None)

    def list_tokens(self) -> list[ApiToken]:
        """Every stored token, by name."""
        with self._lock:
            return sorted(self._tokens.values(), key=lambda token: token.name)

    def revoke_token(self, name: str) -> None:
        """Delete the token named ``name``; ``NotFoundError`` when there is none."""
        with self._lock:
            if self._tokens.pop(name, None) is None:
                raise errors.no_token(name)

    def close(self) -> None:
        """Nothing to release: the data lives as long as the object."""


_Record = TypeVar("_Record", Instance, UserTask, BufferedMessage, HistoryEvent)


def _kept(record: _Record) -> _Record:
    """A record with its variables in the form the SQL stores keep them (the variable codec's
    JSON form): memory reads back exactly what SQLite and PostgreSQL do, and no later change
    to the caller's objects reaches the store."""
    return replace(record, variables=encode(record.variables))


def _copied(job: Job) -> Job:
    """A copy of a job, so that no later change to the caller's object reaches the store (or
    the other way): built field by field, which costs a third of ``dataclasses.replace``, for
    every job a step stores or a claim hands out."""
    return Job(
        id=job.id,
        instance_id=job.instance_id,
        kind=job.kind,
        element_id=job.element_id,
        due_at=job.due_at,
        topic=job.topic,
        retries_left=job.retries_left,
        attempt=job.attempt,
        lock_owner=job.lock_owner,
        lock_expires_at=job.lock_expires_at,
        last_error=job.last_error,
    )


def _given(record: _Record) -> _Record:
    """A stored record with its variables decoded afresh for the caller."""
    return replace(record, variables=decode(record.variables))


def _listing_order(instance: Instance) -> tuple[datetime, str]:
    """Where an instance comes in listings: by start, then id."""
    return instance.started_at, instance.id


def _beyond(
    place: tuple[datetime, str], cursor: tuple[datetime, str], query: InstanceQuery
) -> bool:
    """Whether an instance at ``place`` in listing order comes after the page's ``cursor``."""
    return place < cursor if query.newest_first else place > cursor


def _selects(query: InstanceQuery, instance: Instance) -> bool:
    """Whether ``instance`` passes every filter of ``query`` (paging aside)."""
    if query.variable is None:
        holds = True
    else:
        name, value = query.variable
        stored = instance.variables.get(name, _MISSING)
        # JSON equality: 1 and True differ, 1 and 1.0 do not.
        holds = (isinstance(stored, bool) == isinstance(value, bool)) and stored == value
    return (
        holds
        and (query.status is None or instance.status == InstanceStatus(query.status))
        and (query.process_id is None or instance.process_id == query.process_id)
        and (query.business_key is None or instance.business_key == query.business_key)
        and (query.started_from is None or instance.started_at >= query.started_from)
        and (query.started_until is None or instance.started_at < query.started_until)
    )


_MISSING = object()
