"""Backoffice.once: a handler's change to the back office happens once per idempotency key,
however often the handler runs."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retailflow.retail import Backoffice, seed_backoffice
from retailflow.retail.records import Notification, Stock


def _notify(session: Session) -> dict[str, object]:
    session.add(
        Notification(customer_id="C-0001", template="welcome", sent_at=datetime(2026, 11, 2, 9, 0))
    )
    return {"sent": True}


def _notifications(office: Backoffice) -> int:
    with office.session() as session:
        return session.scalar(select(func.count()).select_from(Notification)) or 0


@pytest.fixture
def office() -> Backoffice:
    office = Backoffice()
    seed_backoffice(office, customers=5)
    return office


def test_a_repeated_key_returns_the_first_result_and_changes_nothing_more(
    office: Backoffice,
) -> None:
    assert office.once("job-1", _notify) == {"sent": True}
    assert office.once("job-1", lambda session: pytest.fail("ran twice")) == {"sent": True}
    assert _notifications(office) == 1


def test_an_effect_that_raises_changes_nothing_and_a_retry_runs_afresh(office: Backoffice) -> None:
    def half_done(session: Session) -> None:
        _notify(session)
        raise RuntimeError("carrier down")

    with pytest.raises(RuntimeError):
        office.once("job-1", half_done)
    assert _notifications(office) == 0
    assert office.once("job-1", _notify) == {"sent": True}
    assert _notifications(office) == 1


def test_two_workers_racing_on_one_key_apply_it_once(tmp_path: Path) -> None:
    office = Backoffice(f"sqlite:///{tmp_path / 'office.db'}")
    seed_backoffice(office, customers=5)
    both_read = threading.Barrier(2)
    results: list[dict[str, object]] = []

    def slow_notify(session: Session) -> dict[str, object]:
        both_read.wait(timeout=5)  # both have seen the key as new before either commits
        return _notify(session)

    threads = [
        threading.Thread(target=lambda: results.append(office.once("k", slow_notify)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [{"sent": True}, {"sent": True}]
    assert _notifications(office) == 1


def test_the_seeded_business_is_the_same_for_the_same_seed() -> None:
    def stock_levels(seed: int) -> list[tuple[str, str, int]]:
        office = Backoffice()
        seed_backoffice(office, customers=3, seed=seed)
        with office.session() as session:
            return [(s.location_id, s.sku, s.on_hand) for s in session.scalars(select(Stock))]

    assert stock_levels(1) == stock_levels(1)
    assert stock_levels(1) != stock_levels(2)
