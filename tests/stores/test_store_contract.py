"""The Store protocol as every store keeps it: memory, SQLite (memory and file), PostgreSQL."""

from __future__ import annotations

from dataclasses import MISSING, fields, replace
from datetime import datetime
from typing import Any

import pytest
from store_builders import (
    at,
    definition,
    event,
    incident,
    instance,
    job,
    resource,
    start,
    step,
    subscription,
    user_task,
)

from retailflow.model import (
    BufferedMessage,
    ConcurrentUpdateError,
    HistoryEvent,
    HistoryKind,
    Incident,
    InstanceQuery,
    InstanceStatus,
    Job,
    JobKind,
    JobState,
    NotFoundError,
    SubscriptionKind,
)
from retailflow.model.history import StepEvent
from retailflow.stores import Checkpoint, Store, WaitStateIds

# -- deployments ---------------------------------------------------------------------------------


def test_saved_definitions_are_found_by_id_and_the_latest_by_highest_version(store: Store) -> None:
    first, second = resource(content=b"v1"), resource(content=b"v2")
    store.save_definitions([first], [definition("order", 1, first)])
    store.save_definitions(
        [second], [definition("order", 2, second), definition("returns", 1, second)]
    )

    assert store.get_definition("order:1") == definition("order", 1, first)
    assert store.latest_definition("order") == definition("order", 2, second)
    assert store.latest_definition("invoice") is None
    assert [d.id for d in store.list_definitions()] == ["order:1", "order:2", "returns:1"]


def test_a_resource_is_stored_once_per_content_hash(store: Store) -> None:
    original = resource("order.bpmn", b"<same/>")
    store.save_definitions([original], [definition("order", 1, original)])
    store.save_definitions(
        [resource("renamed.bpmn", b"<same/>")], [definition("order", 2, original)]
    )

    assert store.get_resource(original.content_hash) == original


def test_saving_an_existing_definition_version_is_refused_and_saves_nothing(store: Store) -> None:
    store.save_definitions([resource()], [definition("order", 1)])
    newcomer = resource("returns.bpmn", b"<returns/>")

    with pytest.raises(ConcurrentUpdateError, match="order:1"):
        store.save_definitions(
            [newcomer], [definition("returns", 1, newcomer), definition("order", 1)]
        )

    assert store.latest_definition("returns") is None
    with pytest.raises(NotFoundError):
        store.get_resource(newcomer.content_hash)


def test_unknown_definitions_and_resources_are_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="order:9"):
        store.get_definition("order:9")
    with pytest.raises(NotFoundError, match="sha256-missing"):
        store.get_resource("sha256-missing")


# -- instances and checkpoints -------------------------------------------------------------------


def test_a_new_instance_is_stored_with_its_state_and_wait_states(store: Store) -> None:
    started = start(
        store,
        instance("i1", business_key="SO-1"),
        b"\x00state\xff",
        jobs=[job("j1")],
        subscriptions=[subscription("s1", key="SO-1")],
        user_tasks=[user_task("t1")],
        history=[event("i1", "start")],
    )

    assert store.load_state("i1") == (
        started,
        b"\x00state\xff",
        WaitStateIds(frozenset({"j1"}), frozenset({"s1"}), frozenset({"t1"})),
    )
    assert store.get_instance("i1") == started
    assert store.list_jobs(instance_id="i1") == [job("j1")]
    assert store.find_subscriptions(SubscriptionKind.MESSAGE, "paid") == [
        subscription("s1", key="SO-1")
    ]
    assert store.get_user_task("t1") == user_task("t1")
    assert [e.element_id for e in store.history("i1")] == ["start"]


def test_a_checkpoint_replaces_the_state_and_stores_the_bumped_version(store: Store) -> None:
    current = start(store, instance("i1"))
    current = step(store, current, b"state-2", history=[event("i1", "reserve")])
    current = step(
        store,
        replace(
            current, status=InstanceStatus.COMPLETED, ended_at=at(60), variables={"reserved": True}
        ),
        b"state-3",
    )

    stored, state, _ = store.load_state("i1")
    assert (stored.version, state) == (3, b"state-3")
    assert stored.status == InstanceStatus.COMPLETED
    assert stored.ended_at == at(60)
    assert stored.variables == {"reserved": True}


def test_stale_version_is_refused_and_changes_nothing(store: Store) -> None:
    store.buffer_message(
        BufferedMessage("m1", "paid", "SO-1", {}, expires_at=at(600), created_at=at(0))
    )
    current = start(
        store,
        instance("i1"),
        b"state-1",
        jobs=[job("j1")],
        subscriptions=[subscription("s1")],
        user_tasks=[user_task("t1")],
        history=[event("i1", "start")],
    )
    step(
        store,
        current,
        b"state-2",
        jobs=[job("j1")],
        subscriptions=[subscription("s1")],
        user_tasks=[user_task("t1")],
    )

    with pytest.raises(ConcurrentUpdateError, match=r"i1 is at version 2.*from version 1"):
        step(
            store,
            current,
            b"stale",
            jobs=[job("j2")],
            user_tasks=[],
            incidents=[incident("x1", "j1")],
            history=[event("i1", "stale")],
            consumed_message_ids=["m1"],
        )

    stored, state, waits = store.load_state("i1")
    assert (stored.version, state) == (2, b"state-2")
    assert waits == WaitStateIds(frozenset({"j1"}), frozenset({"s1"}), frozenset({"t1"}))
    assert [j.id for j in store.list_jobs(instance_id="i1")] == ["j1"]
    assert [s.id for s in store.find_subscriptions(SubscriptionKind.MESSAGE, "paid")] == ["s1"]
    assert [t.id for t in store.list_user_tasks(instance_id="i1")] == ["t1"]
    assert store.list_incidents() == []
    assert [e.element_id for e in store.history("i1")] == ["start"]
    assert [m.id for m in store.take_buffered_messages("paid", "SO-1", at(0))] == ["m1"]


def test_a_group_commit_refuses_its_stale_steps_alone_and_commits_the_others(
    store: Store,
) -> None:
    store.buffer_message(
        BufferedMessage("m1", "paid", "SO-1", {}, expires_at=at(600), created_at=at(0))
    )
    i1 = start(store, instance("i1"), jobs=[job("j1")])
    i2 = start(store, instance("i2"), jobs=[job("j2", "i2")])
    i3 = start(store, instance("i3"))
    i4 = start(store, instance("i4"))
    step(store, i2, b"moved-on", jobs=[job("j2", "i2")])  # another writer's step

    def grouped(current: Any, **sets: Any) -> Checkpoint:
        advanced = replace(current, version=current.version + 1)
        return Checkpoint(
            instance=advanced, state=b"grouped", expected_version=current.version, **sets
        )

    outcomes = store.commit_many(
        [
            grouped(i1, jobs=[job("j1b")], history=[event("i1", "grouped")]),
            # Stale: refused by its version check, before it writes anything.
            grouped(i2, jobs=[job("j2b", "i2")], history=[event("i2", "stale")]),
            # An id taken: its failed INSERT must not abort the rest of the group.
            Checkpoint(instance=instance("i1"), state=b"again", expected_version=None),
            # Opens a subscription beside a buffered message: refused after its writes.
            grouped(
                i3,
                subscriptions=[subscription("s3", "i3", key="SO-1")],
                history=[event("i3", "missed")],
                now=at(0),
            ),
            grouped(i4, history=[event("i4", "grouped")]),
        ]
    )

    assert [type(outcome) for outcome in outcomes] == [
        type(None),
        ConcurrentUpdateError,
        ConcurrentUpdateError,
        ConcurrentUpdateError,
        type(None),
    ]
    assert store.load_state("i1")[1] == b"grouped"
    assert [j.id for j in store.list_jobs(instance_id="i1")] == ["j1b"]
    assert store.load_state("i2")[1] == b"moved-on"
    assert [j.id for j in store.list_jobs(instance_id="i2")] == ["j2"]
    assert store.load_state("i3")[0].version == 1
    assert store.list_subscriptions("i3") == []
    assert store.history("i2") == store.history("i3") == []
    assert store.load_state("i4")[1] == b"grouped"
    assert [e.element_id for e in store.history("i1")] == ["grouped"]


def test_starting_an_instance_id_twice_is_refused(store: Store) -> None:
    start(store, instance("i1"), b"first")

    with pytest.raises(ConcurrentUpdateError, match="i1 already exists"):
        start(store, instance("i1"), b"second", jobs=[job("j1")])

    assert store.load_state("i1")[1] == b"first"
    assert store.list_jobs() == []


def test_a_naive_datetime_is_refused_and_nothing_is_stored(store: Store) -> None:
    naive = datetime(2024, 5, 1, 9, 0)

    with pytest.raises(ValueError, match="timezone-aware"):
        start(store, instance("i1"), jobs=[job("a"), replace(job("b"), due_at=naive)])

    assert store.list_instances() == []
    assert store.list_jobs() == []
    assert store.next_due_at() is None


def test_committing_to_an_unknown_instance_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="i404"):
        step(store, instance("i404"))
    with pytest.raises(NotFoundError, match="i404"):
        store.get_instance("i404")
    with pytest.raises(NotFoundError, match="i404"):
        store.load_state("i404")


def test_instances_are_listed_oldest_first_matching_every_filter(store: Store) -> None:
    start(store, instance("late", started=30, business_key="SO-2"))
    start(store, instance("early", started=10, business_key="SO-1"))
    start(store, instance("returned", process_id="returns", started=20, business_key="SO-1"))
    start(store, instance("done", started=0, status=InstanceStatus.COMPLETED))

    def ids(**filters: object) -> list[str]:
        return [i.id for i in store.list_instances(**filters)]  # type: ignore[arg-type]

    assert ids() == ["done", "early", "returned", "late"]
    assert ids(status=InstanceStatus.RUNNING) == ["early", "returned", "late"]
    assert ids(process_id="order", status=InstanceStatus.RUNNING) == ["early", "late"]
    assert ids(business_key="SO-1") == ["early", "returned"]
    assert ids(limit=2) == ["done", "early"]


def test_instances_page_after_the_last_one_seen_even_when_more_start_meanwhile(
    store: Store,
) -> None:
    for number, started in enumerate((10, 20, 20, 30)):
        start(store, instance(f"i{number}", started=started))

    def page(after: str | None) -> list[str]:
        return [i.id for i in store.list_instances(limit=2, after=after)]

    assert page(None) == ["i0", "i1"]
    start(store, instance("i_early", started=0))  # before the cursor: not seen again
    assert page("i1") == ["i2", "i3"]  # i1 and i2 share a start: the id breaks the tie
    assert page("i3") == []
    assert [i.id for i in store.list_instances(status=InstanceStatus.RUNNING, after="i0")] == [
        "i1",
        "i2",
        "i3",
    ]
    with pytest.raises(NotFoundError, match="i404"):
        store.list_instances(after="i404")


def test_instance_search_filters_by_variable_value_and_start_window(store: Store) -> None:
    start(store, instance("a", started=10, variables={"channel": "web", "n": 1, "vip": True}))
    start(store, instance("b", started=20, variables={"channel": "store", "n": 1.0}))
    start(store, instance("c", started=30, variables={"channel": "web", "n": 2, "vip": 1}))
    start(store, instance("d", started=40, variables={"a.b": "y"}))

    def ids(**query: Any) -> list[str]:
        return [i.id for i in store.search_instances(InstanceQuery(**query))]

    assert ids(variable=("channel", "web")) == ["a", "c"]
    assert ids(variable=("channel", "web"), newest_first=True) == ["c", "a"]
    assert ids(variable=("vip", True)) == ["a"]  # 1 is not true
    assert ids(variable=("vip", 1)) == ["c"]
    assert ids(variable=("n", 2)) == ["c"]
    assert ids(variable=("missing", "web")) == []
    assert ids(variable=("a.b", "y")) == ["d"]  # a name, not a path
    assert ids(started_from=at(20), started_until=at(40)) == ["b", "c"]
    assert ids(started_from=at(20), variable=("channel", "web")) == ["c"]
    assert store.count_instances() == {("order", InstanceStatus.RUNNING): 4}


def test_jobs_are_counted_by_state_as_state_at_tells(store: Store) -> None:
    start(
        store,
        instance("i1"),
        jobs=[
            job("due", due=0),
            job("later", due=100),
            job("taken", due=0),
            job("dead", retries=0),
        ],
    )
    store.claim_due_jobs(now=at(10), owner="w1", lease_until=at(60), limit=1)
    listed = {j.state_at(at(20)) for j in store.list_jobs()}
    counted = store.count_jobs(at(20))
    assert counted == {
        JobState.DUE: 1,
        JobState.SCHEDULED: 1,
        JobState.CLAIMED: 1,
        JobState.FAILED: 1,
    }
    assert set(counted) == listed
    # Once the lease has run out, the claimed job is due again.
    assert store.count_jobs(at(70))[JobState.DUE] == 2


def test_newest_first_pages_break_ties_of_one_start_time_by_id(store: Store) -> None:
    for name in ("i3", "i1", "i4", "i2", "i0"):
        start(store, instance(name, started=5))
    start(store, instance("later", started=9))

    def page(after: str | None) -> list[str]:
        query = InstanceQuery(limit=2, after=after, newest_first=True)
        return [i.id for i in store.search_instances(query)]

    assert page(None) == ["later", "i4"]
    assert page("i4") == ["i3", "i2"]
    assert page("i2") == ["i1", "i0"]
    assert page("i0") == []


def test_stored_state_is_not_changed_by_mutating_committed_or_returned_objects(
    store: Store,
) -> None:
    committed = instance("i1", variables={"lines": [{"sku": "A"}]})
    committed_job = job("j1")
    start(store, committed, jobs=[committed_job])

    committed.version = 99
    committed.variables["lines"][0]["sku"] = "changed"
    committed_job.retries_left = 0
    returned = store.get_instance("i1")
    returned.variables["lines"].append({"sku": "B"})
    store.list_jobs()[0].lock_owner = "intruder"

    assert store.get_instance("i1") == instance("i1", variables={"lines": [{"sku": "A"}]})
    assert store.get_job("j1") == job("j1")


# -- jobs ----------------------------------------------------------------------------------------


def test_jobs_absent_from_a_checkpoint_are_deleted_and_new_ones_inserted(store: Store) -> None:
    current = start(store, instance("i1"), jobs=[job("a"), job("b")])
    start(store, instance("other"), jobs=[job("c", "other")])

    step(store, current, jobs=[job("b"), job("d", due=5)])

    assert [j.id for j in store.list_jobs(instance_id="i1")] == ["b", "d"]
    assert [j.id for j in store.list_jobs(instance_id="other")] == ["c"]
    with pytest.raises(NotFoundError, match="a"):
        store.get_job("a")


def test_a_remaining_job_is_kept_exactly_as_stored_by_later_steps(store: Store) -> None:
    current = start(store, instance("i1"), jobs=[job("a"), job("b", due=100)])
    store.claim_due_jobs(now=at(0), owner="w1", lease_until=at(30), limit=1)
    store.fail_job(
        "a", owner="w1", error="timeout", retries_left=1, due_at=at(50), incident=None, history=[]
    )

    step(store, current, jobs=[job("a"), job("b", due=100)])

    kept = store.get_job("a")
    assert (kept.lock_owner, kept.attempt) == (None, 1)
    assert (kept.due_at, kept.retries_left, kept.last_error) == (at(50), 1, "timeout")
    assert store.get_job("b") == job("b", due=100)


@pytest.mark.parametrize(
    "stored", [None, WaitStateIds(frozenset({"a", "b"}), frozenset({"s1"}), frozenset({"t1"}))]
)
def test_a_job_a_step_removes_takes_its_open_incident_with_it(
    store: Store, stored: WaitStateIds | None
) -> None:
    """Whether the store reads what is stored or is told it (``Checkpoint.stored``)."""
    current = start(
        store,
        instance("i1"),
        jobs=[job("a"), job("b")],
        subscriptions=[subscription("s1")],
        user_tasks=[user_task("t1")],
    )
    store.claim_due_jobs(now=at(0), owner="w1", lease_until=at(30), limit=1)
    store.fail_job(
        "a",
        owner="w1",
        error="boom",
        retries_left=0,
        due_at=at(0),
        incident=Incident("inc", "i1", "a", "el", "boom", at(0)),
        history=[],
    )
    assert [i.id for i in store.list_incidents()] == ["inc"]

    step(store, current, jobs=[job("b"), job("c")], subscriptions=[], user_tasks=[], stored=stored)

    assert store.list_incidents() == []
    assert [j.id for j in store.list_jobs(instance_id="i1")] == ["b", "c"]
    assert store.list_subscriptions("i1") == [] and store.list_user_tasks(instance_id="i1") == []


def test_claim_takes_due_jobs_with_retries_left_earliest_first_up_to_the_limit(
    store: Store,
) -> None:
    start(
        store,
        instance("i1"),
        jobs=[
            job("later", due=20),
            job("first", due=5),
            job("second", due=10),
            job("future", due=61),
            job("exhausted", due=0, retries=0),
        ],
    )

    claimed = store.claim_due_jobs(now=at(60), owner="w1", lease_until=at(90), limit=2)

    assert [j.id for j in claimed] == ["first", "second"]
    assert [
        j.id for j in store.claim_due_jobs(now=at(60), owner="w1", lease_until=at(90), limit=10)
    ] == ["later"]
    assert store.claim_due_jobs(now=at(60), owner="w1", lease_until=at(90), limit=10) == []


def test_a_claimed_job_carries_the_lock_and_its_next_attempt(store: Store) -> None:
    start(store, instance("i1"), jobs=[job("a")])

    [claimed] = store.claim_due_jobs(now=at(1), owner="w1", lease_until=at(31), limit=1)

    assert claimed == replace(job("a"), attempt=1, lock_owner="w1", lock_expires_at=at(31))
    assert store.get_job("a") == claimed


def test_a_locked_job_is_claimed_again_only_after_its_lease_expires(store: Store) -> None:
    start(store, instance("i1"), jobs=[job("a")])
    store.claim_due_jobs(now=at(0), owner="crashed", lease_until=at(30), limit=1)

    assert store.claim_due_jobs(now=at(29), owner="w2", lease_until=at(59), limit=1) == []
    [reclaimed] = store.claim_due_jobs(now=at(30), owner="w2", lease_until=at(60), limit=1)
    assert (reclaimed.lock_owner, reclaimed.attempt) == ("w2", 2)


def test_a_released_job_is_claimable_again_with_its_attempt_restored(store: Store) -> None:
    start(store, instance("i1"), jobs=[job("a")])
    store.claim_due_jobs(now=at(0), owner="w1", lease_until=at(30), limit=1)

    store.release_job("a", owner="someone-else")
    assert store.get_job("a").lock_owner == "w1"
    store.release_job("a", owner="w1")

    assert store.get_job("a") == job("a")
    [again] = store.claim_due_jobs(now=at(1), owner="w2", lease_until=at(31), limit=1)
    assert again.attempt == 1


def test_a_dropped_job_is_gone_but_only_if_its_owner_holds_it(store: Store) -> None:
    start(store, instance("i1"), jobs=[job("a"), job("b")])
    store.claim_due_jobs(now=at(0), owner="w1", lease_until=at(30), limit=2)

    store.drop_job("a", owner="someone-else")
    assert store.get_job("a").lock_owner == "w1"
    store.drop_job("a", owner="w1")

    assert [j.id for j in store.list_jobs(instance_id="i1")] == ["b"]
    store.release_job("b", owner="w1")
    assert [
        j.id for j in store.claim_due_jobs(now=at(1), owner="w2", lease_until=at(31), limit=2)
    ] == ["b"]


def test_a_failed_job_is_unlocked_rescheduled_and_opens_the_incident_it_is_given(
    store: Store,
) -> None:
    start(store, instance("i1"), jobs=[job("a", retries=1)])
    store.claim_due_jobs(now=at(0), owner="w1", lease_until=at(30), limit=1)

    store.fail_job(
        "a",
        owner="w1",
        error="warehouse API down",
        retries_left=0,
        due_at=at(5),
        incident=incident("x1", "a", created=1),
        history=[
            event("i1", "a", kind=HistoryKind.JOB_FAILED, when=1),
            event("i1", "a", kind=HistoryKind.INCIDENT_OPENED, when=1),
        ],
    )

    failed = store.get_job("a")
    assert (failed.lock_owner, failed.lock_expires_at) == (None, None)
    assert (failed.retries_left, failed.due_at, failed.attempt) == (0, at(5), 1)
    assert failed.last_error == "warehouse API down"
    assert store.list_incidents(instance_id="i1") == [incident("x1", "a", created=1)]
    assert [e.kind for e in store.history("i1")] == [
        HistoryKind.JOB_FAILED,
        HistoryKind.INCIDENT_OPENED,
    ]
    assert store.claim_due_jobs(now=at(100), owner="w1", lease_until=at(130), limit=1) == []


def test_a_failure_reported_after_the_lock_was_lost_is_refused_and_records_nothing(
    store: Store,
) -> None:
    start(store, instance("i1"), jobs=[job("a")])
    store.claim_due_jobs(now=at(0), owner="slow", lease_until=at(30), limit=1)
    store.claim_due_jobs(now=at(31), owner="fast", lease_until=at(61), limit=1)

    with pytest.raises(ConcurrentUpdateError, match="slow"):
        store.fail_job(
            "a",
            owner="slow",
            error="late",
            retries_left=2,
            due_at=at(40),
            incident=incident("x1", "a"),
            history=[event("i1", "a")],
        )

    assert store.get_job("a").lock_owner == "fast"
    assert store.list_incidents() == []
    assert store.history("i1") == []
    with pytest.raises(NotFoundError, match="gone"):
        store.fail_job(
            "gone",
            owner="slow",
            error="late",
            retries_left=2,
            due_at=at(40),
            incident=None,
            history=[],
        )


def test_retry_gives_new_retries_and_resolves_the_incidents_of_that_job_only(store: Store) -> None:
    start(
        store,
        instance("i1"),
        jobs=[job("a", retries=0), job("b", retries=0)],
        incidents=[incident("xa", "a", created=1), incident("xb", "b", created=2)],
    )

    store.retry_job(
        "a",
        retries_left=2,
        due_at=at(10),
        history=[event("i1", "a", kind=HistoryKind.INCIDENT_RESOLVED, when=10)],
    )

    assert (store.get_job("a").retries_left, store.get_job("a").due_at) == (2, at(10))
    assert [i.id for i in store.list_incidents()] == ["xb"]
    assert [e.kind for e in store.history("i1")] == [HistoryKind.INCIDENT_RESOLVED]
    assert [
        j.id for j in store.claim_due_jobs(now=at(10), owner="w", lease_until=at(40), limit=5)
    ] == ["a"]
    with pytest.raises(NotFoundError, match="nope"):
        store.retry_job("nope", retries_left=1, due_at=at(0), history=[])


def test_next_due_at_is_the_earliest_due_time_of_an_unlocked_job_with_retries_left(
    store: Store,
) -> None:
    assert store.next_due_at() is None
    start(
        store,
        instance("i1"),
        jobs=[
            job("locked", due=1),
            job("exhausted", due=2, retries=0),
            job("timer", due=50),
            job("next", due=40),
        ],
    )
    store.claim_due_jobs(now=at(1), owner="w1", lease_until=at(31), limit=1)

    assert store.next_due_at() == at(40)


def test_jobs_are_listed_by_due_time(store: Store) -> None:
    start(store, instance("i1"), jobs=[job("c", due=30), job("a", due=10)])
    start(store, instance("i2"), jobs=[job("b", "i2", due=20)])

    assert [j.id for j in store.list_jobs()] == ["a", "b", "c"]
    assert [j.id for j in store.list_jobs(instance_id="i1")] == ["a", "c"]


# -- subscriptions and messages ------------------------------------------------------------------


def test_subscriptions_are_found_by_kind_name_and_correlation_key(store: Store) -> None:
    start(
        store,
        instance("i1"),
        subscriptions=[
            subscription("s1", key="SO-1"),
            subscription("s3", name="cancelled", key="SO-1"),
            subscription("s4", name="recall", kind=SubscriptionKind.SIGNAL),
        ],
    )
    start(store, instance("i2"), subscriptions=[subscription("s2", "i2", key="SO-2")])

    def ids(kind: SubscriptionKind, name: str, key: str | None = None) -> list[str]:
        return [s.id for s in store.find_subscriptions(kind, name, key)]

    assert ids(SubscriptionKind.MESSAGE, "paid", "SO-2") == ["s2"]
    assert ids(SubscriptionKind.MESSAGE, "paid") == ["s1", "s2"]
    assert ids(SubscriptionKind.MESSAGE, "paid", "SO-9") == []
    assert ids(SubscriptionKind.SIGNAL, "recall") == ["s4"]
    assert ids(SubscriptionKind.MESSAGE, "recall") == []


def test_subscriptions_absent_from_a_checkpoint_are_closed(store: Store) -> None:
    current = start(store, instance("i1"), subscriptions=[subscription("s1", key="SO-1")])

    step(store, current, subscriptions=[subscription("s2", name="shipped", key="SO-1")])

    assert store.find_subscriptions(SubscriptionKind.MESSAGE, "paid") == []
    assert [
        s.id for s in store.find_subscriptions(SubscriptionKind.MESSAGE, "shipped", "SO-1")
    ] == ["s2"]


def test_a_buffered_message_is_taken_until_it_expires_and_purged_after(store: Store) -> None:
    store.buffer_message(
        BufferedMessage("m2", "paid", "SO-1", {"n": 2}, expires_at=at(120), created_at=at(2))
    )
    store.buffer_message(
        BufferedMessage("m1", "paid", "SO-1", {"n": 1}, expires_at=at(60), created_at=at(1))
    )
    store.buffer_message(
        BufferedMessage("other", "paid", "SO-2", {}, expires_at=at(600), created_at=at(0))
    )

    assert [m.id for m in store.take_buffered_messages("paid", "SO-1", at(59))] == ["m1", "m2"]
    assert store.take_buffered_messages("paid", "SO-1", at(59))[0].variables == {"n": 1}
    assert [m.id for m in store.take_buffered_messages("paid", "SO-1", at(60))] == ["m2"]
    assert store.purge_expired_messages(at(120)) == 2
    assert store.take_buffered_messages("paid", "SO-1", at(0)) == []
    assert [m.id for m in store.take_buffered_messages("paid", "SO-2", at(0))] == ["other"]


def test_a_buffered_message_without_key_is_taken_only_without_key(store: Store) -> None:
    store.buffer_message(
        BufferedMessage("keyless", "restock", None, {}, expires_at=at(60), created_at=at(0))
    )
    store.buffer_message(
        BufferedMessage("keyed", "restock", "SKU-1", {}, expires_at=at(60), created_at=at(0))
    )

    assert [m.id for m in store.take_buffered_messages("restock", None, at(0))] == ["keyless"]
    assert [m.id for m in store.take_buffered_messages("restock", "SKU-1", at(0))] == ["keyed"]


def test_a_checkpoint_consumes_the_buffered_messages_it_delivered(store: Store) -> None:
    for message_id in ("m1", "m2"):
        store.buffer_message(
            BufferedMessage(message_id, "paid", "SO-1", {}, expires_at=at(60), created_at=at(0))
        )

    start(store, instance("i1"), consumed_message_ids=["m1"])

    assert [m.id for m in store.take_buffered_messages("paid", "SO-1", at(0))] == ["m2"]


def test_a_message_consumed_by_another_step_refuses_the_checkpoint_whole(store: Store) -> None:
    store.buffer_message(
        BufferedMessage("m1", "paid", "SO-1", {}, expires_at=at(60), created_at=at(0))
    )
    start(store, instance("i1"), consumed_message_ids=["m1"])

    with pytest.raises(ConcurrentUpdateError, match="m1 were consumed by another instance"):
        start(store, instance("i2"), jobs=[job("j2", "i2")], consumed_message_ids=["m1"])

    assert [i.id for i in store.list_instances()] == ["i1"]
    assert store.list_jobs() == []


def test_a_subscription_opened_while_its_message_is_buffered_refuses_the_checkpoint(
    store: Store,
) -> None:
    store.buffer_message(
        BufferedMessage("m1", "paid", "SO-1", {}, expires_at=at(60), created_at=at(0))
    )
    waits = subscription("s1", key="SO-1")

    with pytest.raises(ConcurrentUpdateError, match="'paid' with key 'SO-1' was buffered"):
        start(store, instance("i1"), subscriptions=[waits], now=at(59))
    assert store.list_instances() == []

    # Once expired, the message no longer counts; other keys and the keyless never did.
    start(store, instance("i1"), subscriptions=[waits], now=at(60))
    start(store, instance("i2"), subscriptions=[subscription("s2", "i2", key="SO-2")], now=at(0))
    start(store, instance("i3"), subscriptions=[subscription("s3", "i3")], now=at(0))
    assert len(store.list_instances()) == 3


def test_a_step_may_open_a_subscription_for_the_message_it_consumed(store: Store) -> None:
    store.buffer_message(
        BufferedMessage("m1", "paid", "SO-1", {}, expires_at=at(60), created_at=at(0))
    )
    current = start(store, instance("i1"))

    step(
        store,
        current,
        subscriptions=[subscription("s1", key="SO-1")],
        consumed_message_ids=["m1"],
        now=at(0),
    )

    assert [s.id for s in store.list_subscriptions("i1")] == ["s1"]
    assert store.take_buffered_messages("paid", "SO-1", at(0)) == []


def test_lost_wake_ups_are_subscriptions_beside_an_unexpired_message_for_them(
    store: Store,
) -> None:
    for message_id, key, expires in (("m1", "SO-1", 60), ("m2", None, 600), ("m3", "SO-3", 10)):
        store.buffer_message(
            BufferedMessage(message_id, "paid", key, {}, expires_at=at(expires), created_at=at(0))
        )
    assert store.lost_wake_ups(at(0)) == []
    waiting = [
        subscription("s1", key="SO-1"),
        subscription("s2"),
        subscription("s3", key="SO-3"),
        subscription("s4", key="SO-4"),
        subscription("s5", name="shipped", key="SO-1"),
    ]
    # Older versions could leave these pairs behind; today's commits refuse them.
    start(store, instance("i1"), subscriptions=waiting, now=at(600))

    assert [s.id for s in store.lost_wake_ups(at(30))] == ["s1", "s2"]
    assert [s.id for s in store.lost_wake_ups(at(60))] == ["s2"]


def test_a_message_is_not_buffered_while_a_subscription_waits_for_it(store: Store) -> None:
    start(
        store,
        instance("i1"),
        subscriptions=[subscription("s1", key="SO-1"), subscription("s2", name="restock")],
    )
    message = BufferedMessage("m1", "paid", "SO-1", {}, expires_at=at(60), created_at=at(0))

    assert store.buffer_message(message) == subscription("s1", key="SO-1")
    assert store.buffer_message(
        replace(message, id="m2", name="restock", correlation_key=None)
    ) == subscription("s2", name="restock")
    assert store.buffer_message(replace(message, id="m3", correlation_key=None)) is None
    assert store.buffer_message(replace(message, id="m4", correlation_key="SO-2")) is None

    assert [m.id for m in store.take_buffered_messages("paid", "SO-1", at(0))] == []
    assert [m.id for m in store.take_buffered_messages("paid", None, at(0))] == ["m3"]
    assert [m.id for m in store.take_buffered_messages("paid", "SO-2", at(0))] == ["m4"]


# -- user tasks, incidents, history --------------------------------------------------------------


def test_user_tasks_are_filtered_by_instance_assignee_and_candidate_group(store: Store) -> None:
    start(
        store,
        instance("i1"),
        user_tasks=[
            user_task("pack", created=3, groups=("warehouse",)),
            user_task("approve", created=1, assignee="ann", groups=("finance", "managers")),
        ],
    )
    start(
        store,
        instance("i2"),
        user_tasks=[user_task("refund", "i2", created=2, groups=("finance",))],
    )

    def ids(**filters: str) -> list[str]:
        return [t.id for t in store.list_user_tasks(**filters)]

    assert ids() == ["approve", "refund", "pack"]
    assert ids(instance_id="i1") == ["approve", "pack"]
    assert ids(candidate_group="finance") == ["approve", "refund"]
    assert ids(candidate_group="fin") == []
    assert ids(assignee="ann") == ["approve"]
    assert ids(instance_id="i2", candidate_group="finance") == ["refund"]
    assert ids(assignee="ann", candidate_group="warehouse") == []
    assert store.get_user_task("approve") == user_task(
        "approve", created=1, assignee="ann", groups=("finance", "managers")
    )


def test_an_open_user_task_stays_as_it_was_opened_while_the_instance_moves_on(store: Store) -> None:
    current = start(store, instance("i1"), user_tasks=[user_task("approve", created=1)])

    step(store, current, user_tasks=[user_task("approve", created=99, assignee="bob")])

    assert store.get_user_task("approve") == user_task("approve", created=1)


def test_a_completed_user_task_is_no_longer_open(store: Store) -> None:
    current = start(store, instance("i1"), user_tasks=[user_task("approve", groups=("finance",))])

    step(store, current, user_tasks=[])

    assert store.list_user_tasks(candidate_group="finance") == []
    with pytest.raises(NotFoundError, match="approve"):
        store.get_user_task("approve")


def test_open_incidents_are_listed_oldest_first_per_instance(store: Store) -> None:
    start(
        store,
        instance("i1"),
        jobs=[job("a", retries=0)],
        incidents=[incident("late", "a", created=9)],
    )
    start(
        store,
        instance("i2"),
        jobs=[job("b", "i2", retries=0)],
        incidents=[incident("early", "b", "i2", created=1)],
    )

    assert [i.id for i in store.list_incidents()] == ["early", "late"]
    assert [i.id for i in store.list_incidents(instance_id="i1")] == ["late"]


def test_history_is_returned_in_append_order_with_increasing_seq(store: Store) -> None:
    current = start(
        store,
        instance("i1"),
        history=[
            event("i1", "start", kind=HistoryKind.INSTANCE_STARTED, when=5),
            event("i1", "reserve", kind=HistoryKind.ELEMENT_ENTERED, when=1),
        ],
    )
    start(store, instance("i2"), history=[event("i2", "start")])
    step(store, current, history=[event("i1", "reserve", when=3, variables={"reserved": [1, 2]})])

    events = store.history("i1")

    assert [(e.element_id, e.kind) for e in events] == [
        ("start", HistoryKind.INSTANCE_STARTED),
        ("reserve", HistoryKind.ELEMENT_ENTERED),
        ("reserve", HistoryKind.ELEMENT_COMPLETED),
    ]
    seqs = [e.seq for e in events]
    assert all(seq is not None for seq in seqs) and seqs == sorted(set(seqs))  # type: ignore[type-var]
    assert replace(events[2], seq=None) == event(
        "i1", "reserve", when=3, variables={"reserved": [1, 2]}
    )


def test_every_field_of_a_history_event_is_kept(store: Store) -> None:
    """A store that copies or encodes events field by field keeps each one; a field added to
    ``HistoryEvent`` fails here until it is given a value below (and a column, where stored)."""
    full = replace(
        event("i1", "reserve", when=2, variables={"reserved": 2}),
        element_type="serviceTask",
        attempt=3,
        job_id="0f5a3a0e-2c1b-4d7e-9a59-0d3c5b2e7f10",
        process_id="order",
        actor="olivia",
    )
    for spec in fields(HistoryEvent):
        if spec.default is not MISSING and spec.name != "seq":
            assert getattr(full, spec.name) != spec.default, f"give {spec.name} a value here"
    current = start(store, instance("i1"))
    step(store, current, history=[full])

    assert replace(store.history("i1")[-1], seq=None) == full


def test_a_stored_job_keeps_every_field(store: Store) -> None:
    """A step's job comes back from the store with every field it was stored with: a field
    added to ``Job`` fails here until it is given a value below (and a column, where
    stored)."""
    full = replace(
        job("a", retries=2),
        attempt=2,
        lock_owner="w1",
        lock_expires_at=at(31),
        last_error="boom",
    )
    for spec in fields(Job):
        if spec.default is not MISSING:
            assert getattr(full, spec.name) != spec.default, f"give {spec.name} a value here"
    start(store, instance("i1"), jobs=[full])

    assert store.get_job("a") == full
    assert store.list_jobs(instance_id="i1") == [full]


def test_all_history_spans_instances_in_append_order_and_filters_by_definition(
    store: Store,
) -> None:
    current = start(store, instance("i1"), history=[event("i1", f"a{n}") for n in range(1500)])
    start(store, instance("i2"), history=[event("i2", "b", definition_id="returns:1")])
    step(store, current, history=[event("i1", "last")])

    everything = list(store.all_history())
    order = [e.element_id for e in store.all_history(definition_id="order:1")]

    assert len(everything) == 1502
    assert [e.seq for e in everything] == sorted(e.seq for e in everything)  # type: ignore[type-var]
    assert order == [f"a{n}" for n in range(1500)] + ["last"]
    assert [e.instance_id for e in store.all_history(definition_id="returns:1")] == ["i2"]


def test_step_history_holds_the_kpi_events_of_the_instances_started_in_the_window(
    store: Store,
) -> None:
    entered, completed = HistoryKind.ELEMENT_ENTERED, HistoryKind.ELEMENT_COMPLETED
    first = start(
        store,
        instance("old", started=0),
        history=[
            event("old", "pack", kind=entered, when=1),
            event("old", "pack", kind=completed, when=2, variables={"box": "S"}),
        ],
    )
    start(
        store,
        instance("new", started=100),
        history=[
            event("new", "pack", kind=entered, when=101),
            event("new", "flow_1", kind=HistoryKind.SEQUENCE_FLOW_TAKEN, when=101),
        ],
    )
    start(
        store,
        instance("ret", process_id="returns", started=100),
        history=[event("ret", "refund", definition_id="returns:1", when=102)],
    )
    step(
        store,
        first,
        history=[
            event("old", "pack", kind=HistoryKind.INCIDENT_OPENED, when=103),
            event("old", "end", kind=HistoryKind.INSTANCE_COMPLETED, when=104),
        ],
    )

    everything = list(store.step_history())
    orders = [(e.instance_id, e.kind) for e in store.step_history(process_id="order")]
    recent = [e.instance_id for e in store.step_history(process_id="order", started_from=at(50))]

    assert [(e.instance_id, e.element_id) for e in everything] == [
        ("old", "pack"),
        ("old", "pack"),
        ("new", "pack"),
        ("ret", "refund"),
        ("old", "pack"),
    ]
    assert [e.seq for e in everything] == sorted(e.seq for e in everything)  # type: ignore[type-var]
    assert everything[1] == StepEvent(
        everything[1].seq, "old", completed, at(2), "pack", None, None
    )
    assert orders == [
        ("old", entered),
        ("old", completed),
        ("new", entered),
        ("old", HistoryKind.INCIDENT_OPENED),
    ]
    assert recent == ["new"]


def test_an_unchanged_checkpoint_can_be_committed_again_and_only_bumps_the_version(
    store: Store,
) -> None:
    sets: dict[str, Any] = {
        "jobs": [job("a")],
        "subscriptions": [subscription("s1")],
        "user_tasks": [user_task("t1", groups=("finance",))],
    }
    current = start(store, instance("i1"), **sets)

    for _ in range(3):
        current = step(store, current, **sets)

    assert store.get_instance("i1").version == 4
    assert store.list_jobs() == [job("a")]
    assert [t.id for t in store.list_user_tasks(candidate_group="finance")] == ["t1"]


def test_a_deployment_replaces_the_start_schedules_it_names(store: Store) -> None:
    owner_v1, owner_v2 = "definition:order:1", "definition:order:2"
    store.save_definitions(
        [resource()],
        [definition(version=1)],
        {owner_v1: [job("start-1", owner_v1, due=60, kind=JobKind.TIMER)]},
    )
    assert [j.id for j in store.list_jobs(instance_id=owner_v1)] == ["start-1"]

    store.save_definitions(
        [],
        [definition(version=2)],
        {owner_v1: [], owner_v2: [job("start-2", owner_v2, due=120, kind=JobKind.TIMER)]},
    )

    assert store.list_jobs(instance_id=owner_v1) == []
    assert [j.id for j in store.list_jobs(instance_id=owner_v2)] == ["start-2"]


def test_a_new_instance_and_its_schedules_next_start_commit_together(store: Store) -> None:
    owner = "definition:order:1"
    store.save_definitions(
        [resource()], [definition()], {owner: [job("start-1", owner, due=0, kind=JobKind.TIMER)]}
    )
    [claimed] = store.claim_due_jobs(now=at(0), owner="w1", lease_until=at(30), limit=5)
    start(store, instance("i1"))
    stale = Checkpoint(
        instance=replace(instance("i1"), version=4),
        state=b"s",
        expected_version=3,
        schedules={owner: [job("start-2", owner, due=60, kind=JobKind.TIMER)]},
    )
    with pytest.raises(ConcurrentUpdateError):
        store.commit(stale)  # nothing applies, the schedule included
    assert [j.id for j in store.list_jobs(instance_id=owner)] == [claimed.id]

    start(
        store,
        instance("i2"),
        schedules={owner: [job("start-2", owner, due=60, kind=JobKind.TIMER)]},
    )

    assert [j.id for j in store.list_jobs(instance_id=owner)] == ["start-2"]
    assert store.get_instance("i2").status == InstanceStatus.RUNNING


def test_an_instances_subscriptions_are_listed_by_id_and_leave_with_its_steps(store: Store) -> None:
    current = start(
        store,
        instance("i1"),
        subscriptions=[
            subscription("s2", name="shipped", key="SO-1"),
            subscription("s1", key="SO-1"),
            subscription("s3", kind=SubscriptionKind.SIGNAL, name="flash_sale"),
        ],
    )
    start(store, instance("i2"), subscriptions=[subscription("s9", "i2")])
    assert [s.id for s in store.list_subscriptions("i1")] == ["s1", "s2", "s3"]
    assert store.list_subscriptions("i1")[2].kind == SubscriptionKind.SIGNAL
    step(store, current, subscriptions=[subscription("s1", key="SO-1")])
    assert [s.id for s in store.list_subscriptions("i1")] == ["s1"]
    assert store.list_subscriptions("unknown") == []


@pytest.mark.parametrize(
    ("changes", "state"),
    [
        ({}, "due"),
        ({"due_at": at(60)}, "scheduled"),
        ({"lock_owner": "w1", "lock_expires_at": at(30)}, "claimed"),
        ({"lock_owner": "w1", "lock_expires_at": at(5)}, "due"),  # the lease ran out
        ({"retries_left": 0, "last_error": "boom"}, "failed"),
        ({"retries_left": 2, "last_error": "boom", "due_at": at(60)}, "scheduled"),  # backing off
    ],
)
def test_a_jobs_state_is_read_from_its_due_time_lease_and_retries(
    changes: dict[str, Any], state: str
) -> None:
    assert replace(job("j1"), **changes).state_at(at(10)) == state


def test_a_retired_schedule_takes_the_incident_of_its_failed_timer_with_it(store: Store) -> None:
    owner = "definition:order:1"
    store.save_definitions(
        [resource()], [definition()], {owner: [job("start-1", owner, kind=JobKind.TIMER)]}
    )
    store.claim_due_jobs(now=at(0), owner="w1", lease_until=at(30), limit=1)
    store.fail_job(
        "start-1",
        owner="w1",
        error="boom",
        retries_left=0,
        due_at=at(0),
        incident=Incident("inc", owner, "start-1", "el", "boom", at(0)),
        history=[],
    )
    assert [i.id for i in store.list_incidents()] == ["inc"]

    store.save_definitions([], [], {owner: []})  # a new version retires the schedule

    assert store.list_jobs(instance_id=owner) == []
    assert store.list_incidents() == []


def test_history_by_instance_groups_each_instance_in_pages_and_filters(store: Store) -> None:
    second = start(
        store, instance("i2"), history=[event("i2", f"b{n}", when=n) for n in range(1200)]
    )
    start(store, instance("i1"), history=[event("i1", "a", when=0)])
    start(store, instance("i3"), history=[event("i3", "r", definition_id="returns:1")])
    step(store, second, history=[event("i2", "last", when=2000)])

    everything = [(e.instance_id, e.element_id) for e in store.history_by_instance()]
    orders = {e.instance_id for e in store.history_by_instance(definition_ids={"order:1"})}
    recent = [e.element_id for e in store.history_by_instance(since=at(1199))]

    assert everything == (
        [("i1", "a")] + [("i2", f"b{n}") for n in range(1200)] + [("i2", "last"), ("i3", "r")]
    )
    assert orders == {"i1", "i2"}
    assert recent == ["b1199", "last"]
