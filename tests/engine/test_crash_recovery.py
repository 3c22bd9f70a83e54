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
INSTANCES = 60


@pytest.mark.slow
def test_sigkill_at_random_moments_then_reopening_the_file_finishes_every_instance_once(
        tmp_path: Path) -> None:
    engine_db, effects_db = tmp_path / "engine.db", tmp_path / "effects.db"
    command = [sys.executable, str(WORKER), str(engine_db), str(effects_db), str(INSTANCES),
               str(FIXTURES / "gateways.bpmn")]
    rng = random.Random(3)
    kills = 0
    for _ in range(200):
        worker = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        try:
            out, err = worker.communicate(timeout=rng.uniform(0.4, 1.5))
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.communicate()
            kills += 1
            continue
        assert worker.returncode == 0, err
        if "done" in out:
            break
        time.sleep(0.2)
    assert kills >= 3, "the worker finished before it could be killed often enough"

    with Engine(f"sqlite:///{engine_db}") as engine:
        instances = engine.instances()
        assert len(instances) == INSTANCES
        assert {i.business_key for i in instances} == {f"B-{n}" for n in range(INSTANCES)}
        assert all(i.status == InstanceStatus.COMPLETED for i in instances)
        assert engine.jobs() == [] and engine.incidents() == []
        expected_steps = 0
        for instance in instances:
            history = engine.history(instance.id)
            completed = Counter(e.element_id for e in history
                                if e.kind == HistoryKind.ELEMENT_COMPLETED)
            repeated = {element: n for element, n in completed.items() if n > 1}
            assert repeated == {}, f"{instance.business_key} repeated {repeated}"
            assert [e.kind for e in history].count(HistoryKind.INSTANCE_COMPLETED) == 1
            expected_steps += sum(1 for e in history if e.job_id)

    effects = sqlite3.connect(effects_db)
    applied = effects.execute("SELECT COUNT(*) FROM effects").fetchone()[0]
    called_keys = effects.execute("SELECT COUNT(DISTINCT key) FROM calls").fetchone()[0]
    assert applied == called_keys == expected_steps
