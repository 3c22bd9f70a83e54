"""Deploying files: all or nothing, versioned by content.

Every file is read, checked and compiled before anything is stored; one error anywhere refuses
the whole deployment with every finding listed. A process whose files (its own, and those of
the processes and decisions it calls) are byte-identical to its latest version is left alone;
anything else becomes a new version, and running instances keep the version they started on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from retailflow.bpmn import (
    BpmnDocument,
    DmnDocument,
    SourceFile,
    check_documents,
    load_sources,
    read_document,
    validate_schema,
)
from retailflow.decisions import parse_dmn
from retailflow.engine.spiff import CompiledProcess, SourceTree, compile_processes
from retailflow.engine.start_timers import first_start_jobs, schedule_owner
from retailflow.expressions import Dialect, ExpressionEngine
from retailflow.expressions.python_sandbox import PythonSandbox
from retailflow.handlers import HandlerRegistry
from retailflow.handlers.delegates import unbound_callouts
from retailflow.model import (
    Deployment,
    DeploymentError,
    Finding,
    Job,
    ProcessDefinition,
    Resource,
    Severity,
)
from retailflow.stores import Store

logger = logging.getLogger(__name__)


class Deployer:
    """Checks, compiles and stores process files for an engine."""

    def __init__(
        self, store: Store, handlers: HandlerRegistry, expressions: ExpressionEngine
    ) -> None:
        self._store = store
        self._handlers = handlers
        self._expressions = expressions

    def deploy(
        self, paths: Sequence[str | Path], *, require_handlers: bool, now: datetime
    ) -> Deployment:
        """Deploy every ``.bpmn`` and ``.dmn`` file under ``paths``; ``DeploymentError`` (and
        nothing stored) if any error is found."""
        return self.deploy_sources(load_sources(paths), require_handlers=require_handlers, now=now)

    def deploy_sources(
        self, sources: Sequence[SourceFile], *, require_handlers: bool, now: datetime
    ) -> Deployment:
        """Deploy files already read (uploaded ones, say), as ``deploy`` does."""
        checked = check_sources(sources, self._expressions)
        findings, documents, compiled = checked.findings, checked.documents, checked.compiled
        if require_handlers:
            findings.extend(self._missing_handlers(compiled.values()))
        if _errors(findings):
            raise DeploymentError(sorted(findings, key=_order))
        deployment = self._store_versions(sources, documents, compiled, now)
        deployment.warnings.extend(f for f in findings if f.severity != Severity.ERROR)
        for finding in deployment.warnings:
            logger.warning("%s", finding)
        return deployment

    def _missing_handlers(self, processes: Iterable[CompiledProcess]) -> list[Finding]:
        findings = []
        seen: set[str] = set()
        reported: set[tuple[str, str]] = set()
        for compiled in processes:
            for element_id, topic in compiled.job_topics():
                if topic in self._handlers or element_id in seen:
                    continue
                seen.add(element_id)
                file, line = compiled.locations.get(element_id, (None, None))
                findings.append(
                    Finding(
                        Severity.ERROR,
                        "handler-missing",
                        f"no handler is registered for job type '{topic}'",
                        file=file,
                        line=line,
                        element_id=element_id,
                        hint=f"register one with @handlers.handler({topic!r}), or deploy with "
                        "require_handlers=False if the app binds handlers later",
                    )
                )
            for element_id, config in compiled.element_configs():
                file, line = compiled.locations.get(element_id, (None, None))
                for unbound in unbound_callouts(self._handlers, config):
                    if (element_id, unbound.what) in reported:
                        continue  # a called process's, met again through another caller
                    reported.add((element_id, unbound.what))
                    findings.append(
                        Finding(
                            Severity.ERROR,
                            "handler-missing",
                            unbound.message,
                            file=file,
                            line=unbound.line or line,
                            element_id=element_id,
                            hint=unbound.hint,
                        )
                    )
        return findings

    def _store_versions(
        self,
        sources: Sequence[SourceFile],
        documents: Sequence[BpmnDocument | DmnDocument],
        compiled: dict[str, CompiledProcess],
        now: datetime,
    ) -> Deployment:
        file_of_process = {
            process.id: doc.content_hash
            for doc in documents
            if isinstance(doc, BpmnDocument)
            for process in doc.processes
        }
        file_of_decision = {
            decision_id: doc.content_hash
            for doc in documents
            if isinstance(doc, DmnDocument)
            for decision_id in doc.decision_ids
        }
        by_hash = {source.content_hash: source for source in sources}
        deployment = Deployment()
        new_definitions: list[ProcessDefinition] = []
        needed: dict[str, Resource] = {}
        schedules: dict[str, list[Job]] = {}
        for process_id, process in sorted(compiled.items()):
            hashes = {file_of_process[process_id]}
            hashes.update(
                file_of_process[called]
                for called in process.called_process_ids()
                if called in file_of_process
            )
            hashes.update(
                file_of_decision[decision]
                for decision in process.decision_ids()
                if decision in file_of_decision
            )
            resource_hashes = tuple(sorted(hashes))
            own_hash = file_of_process[process_id]
            latest = self._store.latest_definition(process_id)
            if latest is not None and latest.resource_hashes == resource_hashes:
                deployment.unchanged.append(latest)
                continue
            version = 1 if latest is None else latest.version + 1
            definition = ProcessDefinition(
                id=f"{process_id}:{version}",
                process_id=process_id,
                version=version,
                name=process.spec.description if process.spec.description != process_id else None,
                content_hash=own_hash,
                resource_name=by_hash[own_hash].name,
                resource_hashes=resource_hashes,
                deployed_at=now,
            )
            new_definitions.append(definition)
            if latest is not None:
                schedules[schedule_owner(latest.id)] = []  # a new version retires the old one
            if starts := first_start_jobs(definition.id, process, self._expressions, now):
                schedules[schedule_owner(definition.id)] = starts
            for content_hash in resource_hashes:
                source = by_hash[content_hash]
                needed[content_hash] = Resource(source.name, source.content, content_hash)
        if new_definitions:
            self._store.save_definitions(list(needed.values()), new_definitions, schedules)
            deployment.created.extend(new_definitions)
        return deployment


@dataclass(slots=True)
class CheckedSources:
    """What checking a set of files found: the documents that parsed, every finding, and the
    compiled processes (empty when any error was found, since nothing can be deployed then)."""

    documents: list[BpmnDocument | DmnDocument] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    compiled: dict[str, CompiledProcess] = field(default_factory=dict)


def check_sources(sources: Sequence[SourceFile], expressions: ExpressionEngine) -> CheckedSources:
    """Every check a deployment makes before storing anything: parsing, the BPMN schema, DMN
    tables, the static checks (expressions, and scripts compiled under the sandbox's policy,
    so a refused script fails the deployment, not the first instance) and, when those found
    no error, compiling with the engine. ``retailflow validate`` runs exactly this, then adds
    its own modelling, diagram and code rules."""
    checked = CheckedSources()
    findings, documents = checked.findings, checked.documents
    for source in sources:
        try:
            document = read_document(source)
        except DeploymentError as error:
            findings.extend(error.findings)
            continue
        documents.append(document)
        findings.extend(validate_schema(document))
        if isinstance(document, DmnDocument):
            findings.extend(_dmn_findings(document))

    def check_expression(text: str, dialect: str, element_id: str | None) -> None:
        expressions.check(text, dialect=Dialect(dialect), element_id=element_id)

    sandbox = PythonSandbox(expressions.script_timeout)

    def check_script(script: str, element_id: str | None) -> None:
        sandbox.script(script)  # compiles under the sandbox's policy; runs nothing

    findings.extend(
        check_documents(documents, check_expression=check_expression, check_script=check_script)
    )
    if not _errors(findings):
        executable = [
            process.id
            for doc in documents
            if isinstance(doc, BpmnDocument)
            for process in doc.processes
            if process.executable
        ]
        trees = [
            SourceTree(doc.name, doc.root) for doc in documents if isinstance(doc, BpmnDocument)
        ]
        try:
            checked.compiled = compile_processes(trees, executable)
        except DeploymentError as error:
            findings.extend(error.findings)
    return checked


def _dmn_findings(document: DmnDocument) -> list[Finding]:
    try:
        parse_dmn(document.root, file=document.name)
    except DeploymentError as error:
        return list(error.findings)
    return []


def _errors(findings: Sequence[Finding]) -> bool:
    return any(finding.severity == Severity.ERROR for finding in findings)


def _order(finding: Finding) -> tuple[str, int, str]:
    return (finding.file or "", finding.line or 0, finding.rule)
