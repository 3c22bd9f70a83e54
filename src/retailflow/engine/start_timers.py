"""Timer start events: the engine starts instances on their schedule, as Camunda does.

A definition's schedule is a timer job owned by ``"definition:<id>"`` (no instance exists
until it fires). Deploying a new version replaces the previous version's schedule; firing
starts an instance and moves the schedule to its next due time in the same commit. The job's
id carries the due time and how many starts are left (``"R"`` for an unbounded cycle).
"""

from __future__ import annotations

from datetime import datetime

from retailflow.engine.spiff import CompiledProcess
from retailflow.expressions import ExpressionEngine, parse_timer
from retailflow.model import Job, JobKind

OWNER_PREFIX = "definition:"


def schedule_owner(definition_id: str) -> str:
    """The owner of a definition's start-timer jobs."""
    return f"{OWNER_PREFIX}{definition_id}"


def is_start_timer(job: Job) -> bool:
    """True for a job that starts a new instance rather than advancing one."""
    return job.instance_id.startswith(OWNER_PREFIX)


def first_start_jobs(
    definition_id: str, compiled: CompiledProcess, expressions: ExpressionEngine, now: datetime
) -> list[Job]:
    """The first start of every timer start event of a newly deployed definition."""
    jobs = []
    for element_id, timer in compiled.timer_starts():
        schedule = parse_timer(
            timer.kind,
            timer.expression,
            {},
            now,
            expressions,
            element_id=element_id,
            quartz_cron=timer.quartz_cron,
        )
        jobs.append(_job(definition_id, element_id, schedule.first_due, schedule.repetitions))
    return jobs


def next_start_job(
    job: Job, compiled: CompiledProcess, expressions: ExpressionEngine
) -> Job | None:
    """The schedule's next start after ``job`` fired, or None when it was the last."""
    left_text = job.id.rsplit("@", 1)[-1]
    left = None if left_text == "R" else int(left_text) - 1
    if left == 0:
        return None
    for element_id, timer in compiled.timer_starts():
        if element_id != job.element_id:
            continue
        schedule = parse_timer(
            timer.kind,
            timer.expression,
            {},
            job.due_at,
            expressions,
            element_id=element_id,
            quartz_cron=timer.quartz_cron,
        )
        due = schedule.next_after(job.due_at)
        if due is None:
            return None
        return _job(job.topic or "", element_id, due, left)
    return None


def _job(definition_id: str, element_id: str, due: datetime, left: int | None) -> Job:
    owner = schedule_owner(definition_id)
    repetitions = "R" if left is None else str(left)
    return Job(
        id=f"{owner}@{element_id}@{due.isoformat()}@{repetitions}",
        instance_id=owner,
        kind=JobKind.TIMER,
        element_id=element_id,
        due_at=due,
        topic=definition_id,
        retries_left=1,
    )
