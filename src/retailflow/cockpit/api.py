"""The REST API under ``/api/v1``: everything the cockpit shows and does, for any language.

Reads need a viewer's token, changes an operator's (``auth``); changes go through
``actions``, so history records who made them. Answers are the models of ``schemas``;
refusals are JSON with a ``detail`` message and a 4xx status (``app``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile, status
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from retailflow.cockpit.actions import Actions
from retailflow.cockpit.auth import Operator, Viewer
from retailflow.cockpit.schemas import (
    CompleteIn,
    DefinitionOut,
    DeploymentOut,
    HistoryOut,
    IncidentOut,
    InstanceDetail,
    InstanceOut,
    InstancePage,
    JobOut,
    MessageIn,
    MessageOut,
    ProcessOut,
    RetryIn,
    RetryOut,
    SignalIn,
    StartIn,
    SubscriptionOut,
    TaskOut,
    VariablesIn,
)
from retailflow.engine import Engine
from retailflow.model import (
    InstanceQuery,
    InstanceStatus,
    JobState,
    ProcessKpis,
    RetailflowError,
    VariableMatch,
    VariableTypeError,
)
from retailflow.model.variables import decode_variables

router = APIRouter()

MAX_PAGE = 500
"""The most instances one search page returns."""


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _actions(request: Request) -> Actions:
    actions: Actions = request.app.state.actions
    return actions


def variables_from_json(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Variables as a request sent them (the codec's JSON form), in their own types; a
    malformed tag (``{"$date": "soon"}``) is the sender's mistake, a 422."""
    try:
        return decode_variables(raw)
    except RecursionError as error:
        raise VariableTypeError(
            f"{where}: variables nest too deeply to read; flatten them", path=""
        ) from error
    except (ValueError, TypeError, ArithmeticError) as error:
        raise VariableTypeError(
            f"{where}: a tagged value does not read as its type ({error}); "
            'see docs/api.md, "Variable types"',
            path="",
        ) from error


# -- repository ----------------------------------------------------------------------------------
@router.get("/processes", tags=["processes"])
def processes(request: Request, _: Viewer) -> list[ProcessOut]:
    """Deployed processes: their versions, and how many instances each has by status."""
    engine = _engine(request)
    versions: dict[str, list[DefinitionOut]] = defaultdict(list)
    for definition in engine.definitions():
        versions[definition.process_id].append(DefinitionOut.model_validate(definition))
    counts: dict[str, dict[InstanceStatus, int]] = defaultdict(dict)
    for (process_id, instance_status), count in engine.count_instances().items():
        counts[process_id][instance_status] = count
    return [
        ProcessOut(
            process_id=process_id,
            name=listed[-1].name,
            versions=listed,
            instances=counts[process_id],
        )
        for process_id, listed in sorted(versions.items())
    ]


@router.get("/processes/{process_id}/kpis", tags=["processes"])
def kpis(
    request: Request,
    process_id: str,
    _: Viewer,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[ProcessKpis]:
    """KPIs of a process over the instances started in ``[since, until]``: counts, incident
    rate, cycle time percentiles, and per step counts, durations and conversion."""
    return _engine(request).kpis(process_id=process_id, since=since, until=until)


@router.get(
    "/definitions/{definition_id}/xml",
    tags=["processes"],
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}}},
)
def definition_xml(request: Request, definition_id: str, _: Viewer) -> Response:
    """The BPMN file a definition was deployed from (with its diagram), as deployed."""
    store = _engine(request).store
    definition = store.get_definition(definition_id)
    resource = store.get_resource(definition.content_hash)
    return Response(resource.content, media_type="application/xml")


@router.post("/deployments", tags=["processes"], status_code=status.HTTP_201_CREATED)
async def deploy(
    request: Request,
    principal: Operator,
    files: Annotated[list[UploadFile], File(description=".bpmn and .dmn files")],
    require_handlers: bool = False,
) -> DeploymentOut:
    """Deploy uploaded ``.bpmn``/``.dmn`` files, all or none (422 with every finding)."""
    contents: dict[str, bytes] = {}
    for upload in files:
        name = PurePosixPath((upload.filename or "").replace("\\", "/")).name
        if not name:
            raise RetailflowError("every uploaded file needs a file name (order.bpmn)")
        contents[name] = await upload.read()
    # Parsing and checking the files takes a while: off the event loop, like the sync routes.
    deployment = await run_in_threadpool(
        _actions(request).deploy, principal.name, contents, require_handlers=require_handlers
    )
    return DeploymentOut.of(deployment)


# -- instances -----------------------------------------------------------------------------------
@router.get("/instances", tags=["instances"])
def search_instances(
    request: Request,
    _: Viewer,
    process_id: Annotated[str | None, Query(max_length=255)] = None,
    status: InstanceStatus | None = None,
    business_key: Annotated[str | None, Query(max_length=255)] = None,
    variable: Annotated[
        str | None, Query(max_length=255, description="A variable's name, with value=")
    ] = None,
    value: Annotated[
        str | None,
        Query(
            max_length=1000,
            description='The variable\'s value: JSON ("SO-1", 5, true) or plain text',
        ),
    ] = None,
    started_from: datetime | None = None,
    started_until: datetime | None = None,
    order: Literal["newest", "oldest"] = "newest",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    after: Annotated[
        str | None, Query(max_length=255, description="next_after of the previous page")
    ] = None,
) -> InstancePage:
    """Search instances, a page at a time (keyset paging: as fast on page 1000 as on 1)."""
    if (variable is None) != (value is None):
        raise RetailflowError("search by variable needs both variable= and value=")
    query = InstanceQuery(
        process_id=process_id,
        status=status,
        business_key=business_key,
        variable=None if variable is None or value is None else (variable, _match(value)),
        started_from=_aware(started_from, "started_from"),
        started_until=_aware(started_until, "started_until"),
        limit=limit + 1,
        after=after,
        newest_first=order == "newest",
    )
    found = _engine(request).search_instances(query)
    page = found[:limit]
    return InstancePage(
        items=[InstanceOut.model_validate(instance) for instance in page],
        next_after=page[-1].id if len(found) > limit else None,
    )


def _match(value: str) -> VariableMatch:
    """A search value: a JSON scalar as written, else the text itself."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if not isinstance(parsed, str | int | float | bool):
        raise RetailflowError(f"value={value!r}: a search compares one string, number or boolean")
    return parsed


def _aware(moment: datetime | None, name: str) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise RetailflowError(
            f"{name} needs a time zone (2026-12-08T09:00:00Z): a naive time names a "
            "different moment on every machine"
        )
    return moment


@router.get("/instances/{instance_id}", tags=["instances"])
def instance(request: Request, instance_id: str, _: Viewer) -> InstanceDetail:
    """An instance and where it waits now: jobs and timers with due times, message
    subscriptions with their keys, open user tasks, open incidents with their messages."""
    engine = _engine(request)
    found = engine.instance(instance_id)
    now = engine.clock.now()
    return InstanceDetail(
        instance=InstanceOut.model_validate(found),
        jobs=[JobOut.of(job, now) for job in engine.jobs(instance=instance_id)],
        subscriptions=[
            SubscriptionOut.model_validate(s) for s in engine.subscriptions(instance=instance_id)
        ],
        tasks=[TaskOut.model_validate(task) for task in engine.tasks(instance=instance_id)],
        incidents=[IncidentOut.model_validate(i) for i in engine.incidents(instance=instance_id)],
    )


@router.get("/instances/{instance_id}/history", tags=["instances"])
def history(request: Request, instance_id: str, _: Viewer) -> list[HistoryOut]:
    """Every recorded step of an instance, in order, with who took it when a person did."""
    return [HistoryOut.model_validate(event) for event in _engine(request).history(instance_id)]


@router.post("/processes/{process_id}/instances", tags=["instances"], status_code=201)
def start(request: Request, process_id: str, body: StartIn, principal: Operator) -> InstanceOut:
    """Start the latest version of a process, advanced to its first wait states."""
    started = _actions(request).start(
        principal.name,
        process_id,
        business_key=body.business_key,
        variables=variables_from_json(body.variables, f"start of '{process_id}'"),
    )
    return InstanceOut.model_validate(started)


@router.post("/instances/{instance_id}/cancel", tags=["instances"])
def cancel(request: Request, instance_id: str, principal: Operator) -> InstanceOut:
    """End a running instance where it stands."""
    return InstanceOut.model_validate(_actions(request).cancel(principal.name, instance_id))


@router.patch("/instances/{instance_id}/variables", tags=["instances"])
def set_variables(
    request: Request, instance_id: str, body: VariablesIn, principal: Operator
) -> InstanceOut:
    """Set process variables of a running instance (the others keep their values)."""
    variables = variables_from_json(body.variables, f"variables of instance '{instance_id}'")
    return InstanceOut.model_validate(
        _actions(request).set_variables(principal.name, instance_id, variables)
    )


# -- jobs and incidents --------------------------------------------------------------------------
@router.get("/jobs", tags=["jobs"])
def jobs(
    request: Request,
    _: Viewer,
    instance_id: Annotated[str | None, Query(max_length=255)] = None,
    state: JobState | None = None,
) -> list[JobOut]:
    """Jobs (handler calls and timers) by due time; ``state`` keeps due, scheduled, claimed
    or failed ones."""
    engine = _engine(request)
    if instance_id is not None:
        engine.instance(instance_id)  # an unknown id is a 404, not an empty list
    now = engine.clock.now()
    return [JobOut.of(job, now) for job in engine.jobs(instance=instance_id, state=state)]


@router.post("/jobs/{job_id}/fire", tags=["jobs"])
def fire_timer(request: Request, job_id: str, principal: Operator) -> InstanceOut:
    """Fire an instance's waiting timer now, before its due time."""
    return InstanceOut.model_validate(_actions(request).fire_timer(principal.name, job_id))


@router.get("/incidents", tags=["jobs"])
def incidents(
    request: Request,
    _: Viewer,
    instance_id: Annotated[str | None, Query(max_length=255)] = None,
) -> list[IncidentOut]:
    """Open incidents, oldest first, with the failure's message."""
    engine = _engine(request)
    if instance_id is not None:
        engine.instance(instance_id)
    return [IncidentOut.model_validate(i) for i in engine.incidents(instance=instance_id)]


@router.post("/incidents/{incident_id}/retry", tags=["jobs"])
def retry(request: Request, incident_id: str, body: RetryIn, principal: Operator) -> RetryOut:
    """Give an incident's job ``retries`` new runs, due now, after setting ``variables`` on
    its instance if given; a worker then runs it."""
    variables = variables_from_json(body.variables, f"retry of incident '{incident_id}'")
    retried = _actions(request).retry(
        principal.name, incident_id, retries=body.retries, variables=variables
    )
    return RetryOut(retried=retried)


# -- messages and signals ------------------------------------------------------------------------
@router.post("/messages", tags=["events"])
def correlate(request: Request, body: MessageIn, principal: Operator) -> MessageOut:
    """Correlate a message by name and key: it reaches the waiting instance or starts a
    process; with ``ttl_seconds`` it waits that long when nobody waits yet (404 without)."""
    reached = _actions(request).correlate(
        principal.name,
        body.name,
        key=body.key,
        variables=variables_from_json(body.variables, f"message '{body.name}'"),
        ttl=None if body.ttl_seconds is None else timedelta(seconds=body.ttl_seconds),
    )
    return MessageOut(instance=None if reached is None else InstanceOut.model_validate(reached))


@router.post("/signals", tags=["events"])
def broadcast(request: Request, body: SignalIn, principal: Operator) -> list[InstanceOut]:
    """Broadcast a signal to every instance waiting for it (and every process it starts)."""
    reached = _actions(request).broadcast(
        principal.name, body.name, variables_from_json(body.variables, f"signal '{body.name}'")
    )
    return [InstanceOut.model_validate(i) for i in reached]


# -- user tasks ----------------------------------------------------------------------------------
@router.get("/tasks", tags=["tasks"])
def tasks(
    request: Request,
    _: Viewer,
    assignee: Annotated[str | None, Query(max_length=255)] = None,
    candidate_group: Annotated[str | None, Query(max_length=255)] = None,
    instance_id: Annotated[str | None, Query(max_length=255)] = None,
) -> list[TaskOut]:
    """Open user tasks, oldest first, by assignee, candidate group or instance."""
    found = _engine(request).tasks(
        instance=instance_id, assignee=assignee, candidate_group=candidate_group
    )
    return [TaskOut.model_validate(task) for task in found]


@router.get("/tasks/{task_id}", tags=["tasks"])
def task(request: Request, task_id: str, _: Viewer) -> TaskOut:
    """One open user task, with its form key and the variables it sees."""
    return TaskOut.model_validate(_engine(request).store.get_user_task(task_id))


@router.post("/tasks/{task_id}/complete", tags=["tasks"])
def complete_task(
    request: Request, task_id: str, body: CompleteIn, principal: Operator
) -> InstanceOut:
    """Complete an open user task with the variables entered."""
    variables = variables_from_json(body.variables, f"completion of task '{task_id}'")
    return InstanceOut.model_validate(
        _actions(request).complete_task(principal.name, task_id, variables)
    )
