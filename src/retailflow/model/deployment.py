"""Deployed files and the process definitions they contain."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from retailflow.model.finding import Finding


@dataclass(frozen=True, slots=True)
class Resource:
    """One deployed file, stored once and addressed by the hash of its content."""

    name: str
    content: bytes
    content_hash: str


@dataclass(frozen=True, slots=True)
class ProcessDefinition:
    """A versioned executable process (or decision): ``order_fulfilment`` version 3.

    ``id`` is ``"<process_id>:<version>"``. ``resource_hashes`` names every file the definition
    needs at run time (its own file, and the files of called processes and decisions), so an
    instance is always re-created from exactly the files it started with.
    """

    id: str
    process_id: str
    version: int
    name: str | None
    content_hash: str
    resource_name: str
    resource_hashes: tuple[str, ...]
    deployed_at: datetime


@dataclass(frozen=True, slots=True)
class Deployment:
    """What one ``Engine.deploy`` call changed: new versions, unchanged ones, and warnings."""

    created: list[ProcessDefinition] = field(default_factory=list)
    unchanged: list[ProcessDefinition] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def definitions(self) -> list[ProcessDefinition]:
        """Every definition this deployment refers to, new or unchanged."""
        return [*self.created, *self.unchanged]
