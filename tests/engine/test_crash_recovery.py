"""Killing the process between (or during) steps loses nothing and repeats no step."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from retailflow import Engine, HistoryKind, InstanceStatus
from scenario_kit import FIXTURES

WORKER = Path(__file__).with_name("crash_worker.py")
INSTANCES = 80
KILLS = 8


@pytest.mark.slow
def test_sigkill_at_random_moments_then_reopening_the_file_finishes_every_instance_once(
    tmp_path: Path,
) -> None:
    engine_db, effects_db = tmp_path / "engine.db", tmp_path / "effects.db"
    command = [
        sys.executable,
        str(WORKER),
        str(engine_db),
        str(effects_db),
        str(INSTANCES),
        str(FIXTURES / "gateways.bpmn"),
    ]
    rng = random.Random(3)
    kills = 0
    for _ in range(KILLS):
        # Kill once the worker has made a random amount of progress past the last kill, so
        # every kill lands in the middle of the work however fast the machine is.
        target = _calls(effects_db) + rng.randint(3, 12)
        worker = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 300  # a backstop against a hang, not a pace
        while worker.poll() is None and _calls(effects_db) < target:
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.005)
        if worker.poll() is None:
            worker.kill()
            kills += 1
        worker.communicate()
    assert kills >= KILLS - 1, "the worker finished before it could be killed often enough"
    # Then one last worker finishes whatever is left.
    final = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0 and "done" in final.stdout, final.stderr

    with Engine(f"sqlite:///{engine_db}") as engine:
        instances = engine.instances()
        assert len(instances) == INSTANCES
        assert {i.business_key for i in instances} == {f"B-{n}" for n in range(INSTANCES)}
        assert all(i.status == InstanceStatus.COMPLETED for i in instances)
        assert engine.jobs() == [] and engine.incidents() == []
        expected_steps = 0
        for instance in instances:
            history = engine.history(instance.id)
            completed = Counter(
                e.element_id for e in history if e.kind == HistoryKind.ELEMENT_COMPLETED
            )
            repeated = {element: n for element, n in completed.items() if n > 1}
            assert repeated == {}, f"{instance.business_key} repeated {repeated}"
            assert [e.kind for e in history].count(HistoryKind.INSTANCE_COMPLETED) == 1
            expected_steps += sum(1 for e in history if e.job_id)

    effects = sqlite3.connect(effects_db)
    applied = effects.execute("SELECT COUNT(*) FROM effects").fetchone()[0]
    called_keys = effects.execute("SELECT COUNT(DISTINCT key) FROM calls").fetchone()[0]
    assert applied == called_keys == expected_steps


def _calls(effects_db: Path) -> int:
    """Handler calls recorded so far (0 before the worker created its table)."""
    if not effects_db.exists():
        return 0
    try:
        return sqlite3.connect(effects_db).execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
