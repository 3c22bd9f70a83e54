"""What operators do from the cockpit and the REST API, each recorded with who did it.

Pages and API routes call these and nothing else to change an instance: every action runs
inside ``acting_as(actor)``, so the history rows it commits name the token's holder, and one
at a time, since an ``Engine`` (its cache of live runs) serves one thread at a time while
requests arrive on many.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from retailflow.engine import Engine, acting_as
from retailflow.model import Deployment, Instance, NotFoundError

_Result = TypeVar("_Result")


class Actions:
    """The operator actions on one engine; ``actor`` is the name recorded in history."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()

    def _as(self, actor: str, action: Callable[[], _Result]) -> _Result:
        with self._lock, acting_as(actor):
            return action()

    def retry(
        self,
        actor: str,
        incident_id: str,
        *,
        retries: int = 1,
        variables: Mapping[str, Any] | None = None,
    ) -> int:
        """Retry an incident's job with ``retries`` new runs; with ``variables``, set them on
        its instance first (the fix the failure needed). Returns how many jobs were retried."""
        engine = self._engine
        incident = next((i for i in engine.incidents() if i.id == incident_id), None)
        if incident is None:
            raise _no_incident(incident_id)

        def retry() -> int:
            if variables:
                engine.set_variables(incident.instance_id, variables)
            return engine.retry(incident.id, retries=retries)

        return self._as(actor, retry)

    def cancel(self, actor: str, instance_id: str) -> Instance:
        """End a running instance where it stands."""
        return self._as(actor, lambda: self._engine.cancel(instance_id))

    def set_variables(self, actor: str, instance_id: str, variables: Mapping[str, Any]) -> Instance:
        """Change process variables of a running instance."""
        return self._as(actor, lambda: self._engine.set_variables(instance_id, variables))

    def fire_timer(self, actor: str, job_id: str) -> Instance:
        """Fire an instance's waiting timer now, before its due time."""
        return self._as(actor, lambda: self._engine.fire_timer(job_id))

    def complete_task(
        self, actor: str, task_id: str, variables: Mapping[str, Any] | None = None
    ) -> Instance:
        """Complete an open user task with the variables its form gave."""
        return self._as(actor, lambda: self._engine.complete_task(task_id, variables))

    def correlate(
        self,
        actor: str,
        message: str,
        *,
        key: str | None = None,
        variables: Mapping[str, Any] | None = None,
        ttl: timedelta | None = None,
    ) -> Instance | None:
        """Deliver a message (see ``Engine.correlate``)."""
        return self._as(
            actor,
            lambda: self._engine.correlate(message, key=key, variables=variables, ttl=ttl),
        )

    def broadcast(
        self, actor: str, signal: str, variables: Mapping[str, Any] | None = None
    ) -> list[Instance]:
        """Deliver a signal to every instance waiting for it (see ``Engine.broadcast_signal``)."""
        return self._as(actor, lambda: self._engine.broadcast_signal(signal, variables))

    def start(
        self,
        actor: str,
        process_id: str,
        *,
        business_key: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> Instance:
        """Start the latest version of a process."""
        return self._as(
            actor,
            lambda: self._engine.start(process_id, business_key=business_key, variables=variables),
        )

    def deploy(
        self, actor: str, files: Mapping[str, bytes], *, require_handlers: bool = False
    ) -> Deployment:
        """Deploy uploaded files, all or none. Handlers are not required by default: the
        cockpit runs no jobs, the workers that do hold the handlers."""
        return self._as(
            actor,
            lambda: self._engine.deploy_files(files, require_handlers=require_handlers),
        )


def _no_incident(incident_id: str) -> NotFoundError:
    return NotFoundError(
        f"no open incident '{incident_id}'; GET /api/v1/incidents lists the open ones"
    )
