"""Workers racing on one store: claims never overlap, and optimistic locking loses no update.

On the database backends every worker has a store (and connection pool) of its own, as separate
worker processes would.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from store_builders import at, instance, job, start, step

from retailflow.model import ConcurrentUpdateError
from retailflow.stores import Store

WORKERS = 6


def run_together(work: Callable[[int], None]) -> None:
    """Run ``work(worker_number)`` in WORKERS threads released at the same moment."""
    gate = threading.Barrier(WORKERS)
    failures: list[BaseException] = []

    def worker(number: int) -> None:
        gate.wait()
        try:
            work(number)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures


def test_concurrent_claimers_never_get_the_same_job(open_stores: Callable[[], Store]) -> None:
    start(open_stores(), instance("i1"), jobs=[job(f"j{n:03}", due=n % 7) for n in range(300)])
    stores = [open_stores() for _ in range(WORKERS)]
    claimed: list[list[str]] = [[] for _ in range(WORKERS)]

    def claim_until_none_left(number: int) -> None:
        while batch := stores[number].claim_due_jobs(
            now=at(10), owner=f"w{number}", lease_until=at(300), limit=7
        ):
            claimed[number].extend(claimed_job.id for claimed_job in batch)

    run_together(claim_until_none_left)

    times_claimed = Counter(job_id for ids in claimed for job_id in ids)
    assert set(times_claimed) == {f"j{n:03}" for n in range(300)}
    assert set(times_claimed.values()) == {1}


def test_concurrent_checkpoints_of_one_instance_lose_no_update(
    open_stores: Callable[[], Store],
) -> None:
    start(open_stores(), instance("i1", variables={"count": 0}))
    stores = [open_stores() for _ in range(WORKERS)]
    increments = 15

    def increment(number: int) -> None:
        store = stores[number]
        for _ in range(increments):
            while True:
                current = store.get_instance("i1")
                current.variables["count"] += 1
                try:
                    step(store, current)
                    break
                except ConcurrentUpdateError:
                    continue

    run_together(increment)

    final = open_stores().get_instance("i1")
    assert final.variables["count"] == WORKERS * increments
    assert final.version == 1 + WORKERS * increments
