"""KPIs from retailflow's own history: cycle times, SLA breaches, incidents, and per step
durations and conversion, per process over a time window.

The store is read in a fixed number of queries whatever the number of instances: the
instances started in the window once (an index range on the SQL store), their entries,
completions and opened incidents in one pass (``Store.step_history``: through the instances'
start index, so a recent window reads its own instances' history, not the whole table), and
each file of the processes counted once for the element names.

Percentiles are **nearest-rank**: the p-th percentile of n sorted values is the value at rank
``ceil(p / 100 * n)`` (1-based), so it is always a duration that was actually observed
(p50 of 1, 2, 3, 4 hours is 2 hours; p90 of ten values is the ninth).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from lxml import etree

from retailflow.bpmn import BpmnDocument, SourceFile, read_document
from retailflow.model import (
    HistoryKind,
    Instance,
    InstanceQuery,
    InstanceStatus,
    KpiWindow,
    ProcessKpis,
    StepKpis,
)
from retailflow.model.history import StepEvent
from retailflow.stores import Store

StepKey = tuple[str, str]
"""(BPMN process id, element id): element ids repeat across called processes."""


def percentile(values: Sequence[timedelta], percent: float) -> timedelta | None:
    """The nearest-rank ``percent``-th percentile of ``values``; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def compute_kpis(
    store: Store,
    *,
    now: datetime,
    process_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sla: Mapping[str, timedelta] | None = None,
) -> list[ProcessKpis]:
    """The KPIs of every process (or of ``process_id``) for the instances started in
    ``[since, until]`` (``until`` defaults to ``now``), judged as they stood at ``until``;
    ``sla`` maps a process id to its target cycle time. One ``ProcessKpis`` per process that
    has instances in the window (or the asked one, even without instances), by process id."""
    end = until if until is not None else now
    window = KpiWindow(since, end)
    targets = dict(sla or {})
    instances = {
        instance.id: instance
        for instance in store.search_instances(
            InstanceQuery(process_id=process_id, started_from=since)
        )
        if instance.started_at <= end
    }
    tallies: dict[str, _Tally] = {}
    if process_id is not None:
        tallies[process_id] = _Tally()
    for instance in instances.values():
        tallies.setdefault(instance.process_id, _Tally()).count(instance, end, targets)
    _read_history(
        store.step_history(process_id=process_id, started_from=since), instances, tallies, end
    )
    names = _element_names(store, tallies)
    return [tallies[pid].kpis(pid, window, targets.get(pid), names) for pid in sorted(tallies)]


@dataclass(slots=True)
class _Step:
    element_type: str | None
    entered: int = 0
    durations: list[timedelta] = field(default_factory=list)
    passed_by: set[str] = field(default_factory=set)  # the instances that completed it


@dataclass(slots=True)
class _Tally:
    started: int = 0
    completed: int = 0
    cancelled: int = 0
    open: int = 0
    breaches: int = 0
    cycle_times: list[timedelta] = field(default_factory=list)
    incidents: set[str] = field(default_factory=set)
    steps: dict[StepKey, _Step] = field(default_factory=dict)

    def count(self, instance: Instance, end: datetime, targets: Mapping[str, timedelta]) -> None:
        self.started += 1
        target = targets.get(instance.process_id)
        ended = (
            instance.ended_at
            if instance.ended_at is not None and instance.ended_at <= end
            else None
        )
        if ended is None:
            self.open += 1
            if target is not None and end - instance.started_at > target:
                self.breaches += 1
        elif instance.status is InstanceStatus.CANCELLED:
            self.cancelled += 1
        else:
            self.completed += 1
            self.cycle_times.append(ended - instance.started_at)
            if target is not None and ended - instance.started_at > target:
                self.breaches += 1

    def kpis(
        self,
        process_id: str,
        window: KpiWindow,
        target: timedelta | None,
        names: Mapping[StepKey, str],
    ) -> ProcessKpis:
        steps = [
            StepKpis(
                element_id=key[1],
                name=names.get(key),
                element_type=step.element_type,
                process_id=key[0],
                entered=step.entered,
                completed=len(step.durations),
                duration_p50=percentile(step.durations, 50),
                duration_p90=percentile(step.durations, 90),
                conversion=_rate(len(step.passed_by), self.started),
            )
            for key, step in self.steps.items()
        ]
        return ProcessKpis(
            process_id=process_id,
            window=window,
            started=self.started,
            completed=self.completed,
            cancelled=self.cancelled,
            open=self.open,
            with_incidents=len(self.incidents),
            incident_rate=_rate(len(self.incidents), self.started),
            cycle_time_p50=percentile(self.cycle_times, 50),
            cycle_time_p90=percentile(self.cycle_times, 90),
            sla=target,
            sla_breaches=self.breaches if target is not None else None,
            sla_breach_rate=_rate(self.breaches, self.started) if target is not None else None,
            steps=steps,
        )


def _read_history(
    events: Iterable[StepEvent],
    instances: Mapping[str, Instance],
    tallies: Mapping[str, _Tally],
    end: datetime,
) -> None:
    """One pass: pair each completion with the oldest open entry of the same element in the
    same instance (an element completed without an entry was passed straight through)."""
    open_entries: dict[tuple[str, StepKey], deque[datetime]] = defaultdict(deque)
    for event in events:
        instance = instances.get(event.instance_id)
        if instance is None or event.at > end:
            continue
        tally = tallies[instance.process_id]
        if event.kind is HistoryKind.INCIDENT_OPENED:
            tally.incidents.add(instance.id)
            continue
        if (
            event.kind not in (HistoryKind.ELEMENT_ENTERED, HistoryKind.ELEMENT_COMPLETED)
            or event.element_id is None
        ):
            continue
        key = (event.process_id or instance.process_id, event.element_id)
        step = tally.steps.get(key)
        if step is None:
            step = tally.steps[key] = _Step(event.element_type)
        entries = open_entries[(instance.id, key)]
        if event.kind is HistoryKind.ELEMENT_ENTERED:
            step.entered += 1
            entries.append(event.at)
        elif entries:
            step.durations.append(event.at - entries.popleft())
            step.passed_by.add(instance.id)
        else:
            step.entered += 1
            step.durations.append(timedelta(0))
            step.passed_by.add(instance.id)


def _element_names(store: Store, tallies: Mapping[str, _Tally]) -> dict[StepKey, str]:
    """Element names as drawn, read once from each file that defines a process the steps
    belong to (latest files win)."""
    wanted = {key for tally in tallies.values() for key in tally.steps}
    if not wanted:
        return {}
    scopes = {process_id for process_id, _element_id in wanted}
    names: dict[StepKey, str] = {}
    seen: set[str] = set()
    for definition in store.list_definitions():
        if definition.process_id not in scopes:
            continue
        for content_hash in definition.resource_hashes:
            if content_hash in seen:
                continue
            seen.add(content_hash)
            resource = store.get_resource(content_hash)
            if not resource.name.endswith(".bpmn"):
                continue
            document = read_document(
                SourceFile(resource.name, resource.content, resource.content_hash, "bpmn")
            )
            if isinstance(document, BpmnDocument):
                names.update(_names_in(document))
    return {key: name for key, name in names.items() if key in wanted}


def _names_in(document: BpmnDocument) -> dict[StepKey, str]:
    names: dict[StepKey, str] = {}
    for info in document.processes:
        for element in info.element.iter():
            if not isinstance(element.tag, str):
                continue
            element_id, name = element.get("id"), element.get("name")
            if element_id and name and etree.QName(element).localname != "process":
                names[(info.id, element_id)] = name
    return names


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
