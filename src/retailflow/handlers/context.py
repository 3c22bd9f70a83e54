"""HandlerContext: what a handler may know about the job it runs, beyond the variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from retailflow.model import RetailflowError

if TYPE_CHECKING:
    from retailflow.model import Instance, Job


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """The job a handler call belongs to; a parameter annotated ``HandlerContext`` receives it.

    ``attempt`` is 1 on the first run and grows with every retry of the same job.
    ``headers`` are the task's static headers from the diagram (``zeebe:taskHeaders``).

    ``idempotency_key`` is ``f"{instance_id}:{element_id}:{job_id}"``. Handlers run at least once,
    so a handler that calls out (reserves stock, charges a card) passes this key along to make a
    repeated call harmless. ``job_id`` is the waiting element's task id, which stays the same for
    every retry of the job, so the key does too; a new pass through the element is a new job with
    a new key. The key is computed here, never passed in, so no caller can invent another.
    """

    instance_id: str
    business_key: str | None
    process_id: str
    definition_id: str
    element_id: str
    job_id: str
    topic: str
    attempt: int
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    idempotency_key: str = field(init=False)

    def __post_init__(self) -> None:
        key = self.idempotency_key_for(self.instance_id, self.element_id, self.job_id)
        object.__setattr__(self, "idempotency_key", key)
        if not isinstance(self.headers, MappingProxyType):
            # A copy the handler cannot change, so headers read the same on every attempt.
            object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))

    @staticmethod
    def idempotency_key_for(instance_id: str, element_id: str, job_id: str) -> str:
        """The one definition of a job's idempotency key, for code that has no context at hand."""
        return f"{instance_id}:{element_id}:{job_id}"

    @classmethod
    def for_job(
        cls, job: Job, instance: Instance, headers: Mapping[str, str] | None = None
    ) -> HandlerContext:
        """The context of a claimed service job of ``instance``."""
        if job.topic is None:
            raise RetailflowError(
                f"job '{job.id}' at element '{job.element_id}' of instance "
                f"'{instance.id}' has no topic, so no handler runs it: only "
                "service-task jobs get a HandlerContext"
            )
        return cls(
            instance_id=instance.id,
            business_key=instance.business_key,
            process_id=instance.process_id,
            definition_id=instance.definition_id,
            element_id=job.element_id,
            job_id=job.id,
            topic=job.topic,
            attempt=job.attempt,
            headers=headers or {},
        )
