"""BPMN and DMN coverage, counted from history: which flow nodes and sequence flows of each
deployed process a test run passed, and which rules of each decision it hit.

History already records every element entered and completed, every sequence flow taken and
every decision evaluated, so coverage needs no listener of its own: after each test the
collector reads the history of the engines the plugin's fixtures made, and counts it against
the files those engines deployed. A process that is deployed but never started counts too,
with nothing covered, which is the point of a coverage report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from retailflow.decisions import Decision
from retailflow.diagram.model import FileModel, ProcessModel, definition_files
from retailflow.engine import Engine
from retailflow.model import HistoryKind, ProcessDefinition

_REACHED = (HistoryKind.ELEMENT_ENTERED, HistoryKind.ELEMENT_COMPLETED)
_LISTENING = frozenset({"boundaryEvent", "startEvent"})


@dataclass(frozen=True, slots=True)
class Ratio:
    """``covered`` of ``total``."""

    covered: int
    total: int

    @property
    def percent(self) -> float:
        """Nothing to cover counts as fully covered, as coverage.py counts an empty file."""
        return 100.0 if self.total == 0 else 100.0 * self.covered / self.total

    def __add__(self, other: Ratio) -> Ratio:
        return Ratio(self.covered + other.covered, self.total + other.total)


@dataclass(slots=True)
class ProcessCoverage:
    """One process: how often each flow node was passed and each sequence flow taken.
    ``reached`` holds nodes entered but not (yet) completed too, such as a wait state the
    tests stopped at: the nodes covered."""

    model: ProcessModel
    passed: Counter[str] = field(default_factory=Counter)
    taken: Counter[str] = field(default_factory=Counter)
    reached: set[str] = field(default_factory=set)
    instances: int = 0

    def reach(self, element_id: str, *, completed: bool) -> None:
        """Count a history row of a flow node. An entered boundary event or event subprocess
        start only listens (the token is on the activity, or nowhere yet): it counts once it
        fires, that is, completes."""
        node = self.model.nodes.get(element_id)
        if node is None:
            return
        if completed:
            self.passed[element_id] += 1
            self.reached.add(element_id)
        elif node.tag not in _LISTENING:
            self.reached.add(element_id)

    @property
    def nodes(self) -> Ratio:
        return Ratio(len(self.reached), len(self.model.nodes))

    @property
    def flows(self) -> Ratio:
        return Ratio(len(self.taken.keys() & self.model.flows.keys()), len(self.model.flows))

    @property
    def total(self) -> Ratio:
        """Flow nodes and sequence flows together, as Camunda's coverage reports count them."""
        return self.nodes + self.flows


@dataclass(slots=True)
class DecisionCoverage:
    """One decision: how often each rule was hit, over how many evaluations."""

    decision: Decision
    file: str
    hits: Counter[str] = field(default_factory=Counter)
    evaluations: int = 0

    @property
    def rule_ids(self) -> list[str]:
        table = self.decision.table
        return [rule.id for rule in table.rules] if table is not None else []

    @property
    def rules(self) -> Ratio:
        rule_ids = self.rule_ids
        return Ratio(len(self.hits.keys() & set(rule_ids)), len(rule_ids))


class CoverageCollector:
    """Accumulates coverage over a test session."""

    def __init__(self) -> None:
        self._processes: dict[tuple[str, str], ProcessCoverage] = {}
        self._decisions: dict[tuple[str, str], DecisionCoverage] = {}

    @property
    def processes(self) -> list[ProcessCoverage]:
        """Every process seen, by id then file."""
        return sorted(
            self._processes.values(),
            key=lambda p: (p.model.process_id, p.model.file, p.model.content_hash),
        )

    @property
    def decisions(self) -> list[DecisionCoverage]:
        """Every decision table or literal decision seen, by id then file."""
        return sorted(self._decisions.values(), key=lambda d: (d.decision.id, d.file))

    @property
    def total(self) -> Ratio:
        """Flow nodes and sequence flows of every process together."""
        return sum((process.total for process in self._processes.values()), Ratio(0, 0))

    @property
    def rules(self) -> Ratio:
        """The DMN rules hit, over every decision table seen."""
        return sum((decision.rules for decision in self._decisions.values()), Ratio(0, 0))

    def collect(self, engine: Engine) -> None:
        """Count everything ``engine`` deployed and ran."""
        scopes = {
            definition.id: self._scope(engine, definition) for definition in engine.definitions()
        }
        for event in engine.store.all_history():
            scope = scopes.get(event.definition_id)
            if scope is None:
                continue
            if event.kind == HistoryKind.INSTANCE_STARTED:
                scope.own.instances += 1
            elif event.element_id is None:
                continue
            elif event.kind == HistoryKind.DECISION_EVALUATED:
                scope.count_decision(event.variables)
            elif event.kind == HistoryKind.SEQUENCE_FLOW_TAKEN:
                process = scope.owner(event.process_id, event.element_id)
                if process is not None:
                    process.taken[event.element_id] += 1
            elif event.kind in _REACHED:
                process = scope.owner(event.process_id, event.element_id)
                if process is not None:
                    process.reach(
                        event.element_id, completed=event.kind == HistoryKind.ELEMENT_COMPLETED
                    )

    def _scope(self, engine: Engine, definition: ProcessDefinition) -> _Scope:
        files = definition_files(engine.store, definition)
        processes = [self._process(model) for file in files for model in file.processes]
        own = next(p for p in processes if p.model.process_id == definition.process_id)
        decisions = {d.decision.id: d for d in self._decision_files(files)}
        return _Scope(own, processes, decisions)

    def _process(self, model: ProcessModel) -> ProcessCoverage:
        coverage = self._processes.get(model.key)
        if coverage is None:
            coverage = self._processes[model.key] = ProcessCoverage(model)
        return coverage

    def _decision_files(self, files: list[FileModel]) -> list[DecisionCoverage]:
        found = []
        for file in files:
            for decision in file.decisions:
                key = (decision.id, file.content_hash)
                if key not in self._decisions:
                    self._decisions[key] = DecisionCoverage(decision, file.name)
                found.append(self._decisions[key])
        return found


@dataclass(slots=True)
class _Scope:
    """The processes and decisions one definition's instances can touch: its own process
    first, then those it calls (a called process runs inside its caller's instance)."""

    own: ProcessCoverage
    processes: list[ProcessCoverage]
    decisions: dict[str, DecisionCoverage]

    def owner(self, process_id: str | None, element_id: str) -> ProcessCoverage | None:
        """The process an element row counts for: the one the row names, else (rows written
        before history named processes) the first in scope that has the element."""
        candidates = (
            [p for p in self.processes if p.model.process_id == process_id]
            if process_id is not None
            else [self.own, *self.processes]
        )
        return next(
            (p for p in candidates if element_id in p.model.nodes or element_id in p.model.flows),
            None,
        )

    def count_decision(self, variables: dict[str, object]) -> None:
        decision = self.decisions.get(str(variables.get("decision_id")))
        if decision is None:
            return
        decision.evaluations += 1
        rule_ids = variables.get("rule_ids")
        if isinstance(rule_ids, list):
            decision.hits.update(str(rule_id) for rule_id in rule_ids)
