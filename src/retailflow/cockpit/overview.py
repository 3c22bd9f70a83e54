"""The processes overview the cockpit opens on, one reading for its page and its API."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from retailflow.engine import Engine
from retailflow.model import InstanceStatus, ProcessDefinition


@dataclass(frozen=True, slots=True)
class ProcessSummary:
    """A deployed process: its versions (oldest first, so the last is the one a start
    uses) and how many instances all of them have by status (statuses with none left out)."""

    process_id: str
    versions: list[ProcessDefinition]
    instances: dict[InstanceStatus, int]

    @property
    def name(self) -> str | None:
        """The latest version's name."""
        return self.versions[-1].name


def process_summaries(engine: Engine) -> list[ProcessSummary]:
    """Every deployed process, by id. Counts only, no KPIs: those are read from the whole
    history, which a list of every process should not wait for."""
    versions: dict[str, list[ProcessDefinition]] = defaultdict(list)
    for definition in engine.definitions():
        versions[definition.process_id].append(definition)
    counts: dict[str, dict[InstanceStatus, int]] = defaultdict(dict)
    for (process_id, status), count in engine.count_instances().items():
        counts[process_id][status] = count
    return [
        ProcessSummary(process_id, found, counts[process_id])
        for process_id, found in sorted(versions.items())
    ]
