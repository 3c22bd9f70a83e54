"""Store invariants under any sequence of commits, claims, failures, releases and retries.

A small model of the jobs runs beside the store. After every step the store must agree with it,
and on the way: no claim ever hands out a job whose lease another worker still holds, every claim
takes as many eligible jobs as the limit allows, a stale commit changes nothing, and each
instance's stored version equals the number of its commits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from store_builders import at, instance, job

from retailflow.model import ConcurrentUpdateError, Job
from retailflow.stores import Checkpoint, Store, open_store

OWNERS = st.sampled_from(["w1", "w2", "w3"])


@dataclass
class ModelJob:
    """What the store should hold for one job."""

    instance_id: str
    due_at: datetime
    retries_left: int
    attempt: int = 0
    lock_owner: str | None = None
    lock_expires_at: datetime | None = None
    last_error: str | None = None

    def claimable(self, now: datetime) -> bool:
        lease_over = self.lock_owner is None or (
            self.lock_expires_at is not None and self.lock_expires_at <= now
        )
        return self.due_at <= now and self.retries_left > 0 and lease_over


class StoreMachine(RuleBasedStateMachine):
    url = "memory://"

    def __init__(self) -> None:
        super().__init__()
        self.store: Store = open_store(self.url)
        self.now = 0
        self.versions: dict[str, int] = {}
        self.jobs: dict[str, ModelJob] = {}
        self.serial = 0

    def teardown(self) -> None:
        self.store.close()

    def _new_job_id(self) -> str:
        self.serial += 1
        return f"j{self.serial}"

    def _jobs_of(self, instance_id: str) -> list[str]:
        return sorted(j for j, model in self.jobs.items() if model.instance_id == instance_id)

    @rule(dues=st.lists(st.integers(0, 40), max_size=4), retries=st.integers(0, 2))
    def start_instance(self, dues: list[int], retries: int) -> None:
        instance_id = f"i{len(self.versions) + 1}"
        new_jobs = [job(self._new_job_id(), instance_id, due=due, retries=retries) for due in dues]
        self.store.commit(
            Checkpoint(
                instance=instance(instance_id), state=b"s", expected_version=None, jobs=new_jobs
            )
        )
        self.versions[instance_id] = 1
        for new in new_jobs:
            self.jobs[new.id] = ModelJob(instance_id, new.due_at, new.retries_left)

    @precondition(lambda self: self.versions)
    @rule(data=st.data(), stale=st.booleans(), added=st.lists(st.integers(0, 40), max_size=2))
    def step_instance(self, data: st.DataObject, stale: bool, added: list[int]) -> None:
        instance_id = data.draw(st.sampled_from(sorted(self.versions)))
        version = self.versions[instance_id]
        kept = {
            job_id: (data.draw(st.integers(0, 40)), data.draw(st.integers(0, 2)))
            for job_id in self._jobs_of(instance_id)
            if data.draw(st.booleans())
        }
        wanted = [
            replace(
                job(job_id, instance_id, due=due, retries=retries), last_error=f"step {version}"
            )
            for job_id, (due, retries) in kept.items()
        ]
        wanted += [job(self._new_job_id(), instance_id, due=due) for due in added]
        expected = version - 1 if stale else version
        checkpoint = Checkpoint(
            instance=replace(instance(instance_id), version=version + 1),
            state=b"s",
            expected_version=expected,
            jobs=wanted,
        )
        if stale:
            with pytest.raises(ConcurrentUpdateError):
                self.store.commit(checkpoint)
            return
        self.store.commit(checkpoint)
        self.versions[instance_id] = version + 1
        for job_id in self._jobs_of(instance_id):
            if job_id not in kept:
                del self.jobs[job_id]
        for wanted_job in wanted:
            if wanted_job.id not in self.jobs:  # remaining jobs are kept as stored
                self.jobs[wanted_job.id] = ModelJob(
                    instance_id,
                    wanted_job.due_at,
                    wanted_job.retries_left,
                    last_error=wanted_job.last_error,
                )

    @rule(owner=OWNERS, limit=st.integers(1, 4), lease=st.integers(1, 30))
    def claim(self, owner: str, limit: int, lease: int) -> None:
        now = at(self.now)
        eligible = {j for j, model in self.jobs.items() if model.claimable(now)}

        claimed = self.store.claim_due_jobs(
            now=now, owner=owner, lease_until=at(self.now + lease), limit=limit
        )

        assert len(claimed) == min(limit, len(eligible))
        for claimed_job in claimed:
            assert claimed_job.id in eligible, f"{claimed_job.id} was not claimable"
            model = self.jobs[claimed_job.id]
            model.attempt += 1
            model.lock_owner, model.lock_expires_at = owner, at(self.now + lease)
            assert self._as_job(claimed_job.id, model) == claimed_job

    @precondition(lambda self: any(m.lock_owner for m in self.jobs.values()))
    @rule(data=st.data(), delay=st.integers(0, 20), as_owner=st.booleans())
    def fail(self, data: st.DataObject, delay: int, as_owner: bool) -> None:
        job_id = data.draw(st.sampled_from(sorted(j for j, m in self.jobs.items() if m.lock_owner)))
        model = self.jobs[job_id]
        owner = model.lock_owner if as_owner else "intruder"
        assert owner is not None
        retries_left = max(model.retries_left - 1, 0)
        failure = {
            "owner": owner,
            "error": "boom",
            "retries_left": retries_left,
            "due_at": at(self.now + delay),
            "incident": None,
            "history": [],
        }
        if not as_owner:
            with pytest.raises(ConcurrentUpdateError):
                self.store.fail_job(job_id, **failure)  # type: ignore[arg-type]
            return
        self.store.fail_job(job_id, **failure)  # type: ignore[arg-type]
        model.lock_owner = model.lock_expires_at = None
        model.retries_left, model.due_at = retries_left, at(self.now + delay)
        model.last_error = "boom"

    @precondition(lambda self: any(m.lock_owner for m in self.jobs.values()))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(j for j, m in self.jobs.items() if m.lock_owner)))
        model = self.jobs[job_id]
        assert model.lock_owner is not None
        self.store.release_job(job_id, owner=model.lock_owner)
        model.lock_owner = model.lock_expires_at = None
        model.attempt = max(model.attempt - 1, 0)

    @precondition(lambda self: any(m.retries_left == 0 for m in self.jobs.values()))
    @rule(data=st.data(), retries=st.integers(1, 2))
    def retry(self, data: st.DataObject, retries: int) -> None:
        job_id = data.draw(
            st.sampled_from(sorted(j for j, m in self.jobs.items() if m.retries_left == 0))
        )
        self.store.retry_job(job_id, retries_left=retries, due_at=at(self.now), history=[])
        self.jobs[job_id].retries_left, self.jobs[job_id].due_at = retries, at(self.now)

    @rule(seconds=st.integers(0, 25))
    def advance_clock(self, seconds: int) -> None:
        self.now += seconds

    @invariant()
    def stored_versions_count_the_commits(self) -> None:
        for instance_id, commits in self.versions.items():
            assert self.store.get_instance(instance_id).version == commits

    @invariant()
    def stored_jobs_match_the_model(self) -> None:
        expected = sorted(
            (self._as_job(j, m) for j, m in self.jobs.items()), key=lambda stored: stored.id
        )
        assert sorted(self.store.list_jobs(), key=lambda stored: stored.id) == expected

    @invariant()
    def next_due_at_is_the_earliest_unlocked_job_with_retries(self) -> None:
        dues = [m.due_at for m in self.jobs.values() if m.lock_owner is None and m.retries_left > 0]
        assert self.store.next_due_at() == min(dues, default=None)

    @staticmethod
    def _as_job(job_id: str, model: ModelJob) -> Job:
        return replace(
            job(job_id, model.instance_id),
            due_at=model.due_at,
            retries_left=model.retries_left,
            attempt=model.attempt,
            lock_owner=model.lock_owner,
            lock_expires_at=model.lock_expires_at,
            last_error=model.last_error,
        )


@pytest.mark.parametrize("url", ["memory://", "sqlite://"])
def test_any_sequence_of_store_operations_keeps_the_invariants(url: str) -> None:
    class StoreMachineOnBackend(StoreMachine):
        pass

    StoreMachineOnBackend.url = url
    run_state_machine_as_test(
        StoreMachineOnBackend,
        settings=settings(max_examples=60, stateful_step_count=40, deadline=None),
    )
