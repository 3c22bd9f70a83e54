"""Shared fixtures: an engine per store kind, so every scenario runs on memory and SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retailflow import Engine, HandlerRegistry, VirtualClock
from scenario_kit import EngineFactory


@pytest.fixture(params=["memory", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """``None`` (in memory) or a fresh SQLite file."""
    return None if request.param == "memory" else f"sqlite:///{tmp_path / 'engine.db'}"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def make_engine(store_url: str | None, clock: VirtualClock) -> Iterator[EngineFactory]:
    """Build engines on the test's store; every engine made is closed afterwards."""
    made: list[Engine] = []

    def factory(handlers: HandlerRegistry | None = None, **kwargs: object) -> Engine:
        engine = Engine(store_url, handlers=handlers or HandlerRegistry(), clock=clock,
                        **kwargs)  # type: ignore[arg-type]
        made.append(engine)
        return engine

    yield factory
    for engine in made:
        engine.close()
