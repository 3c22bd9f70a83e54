"""The cockpit's HTML pages: processes with their heatmaps, instance search, one instance on its
diagram with the operator's actions, and the task list with its forms.

Pages read through the engine's query methods and change things only through ``Actions`` (the
same calls the REST API makes), so a page and a script can never disagree. Every change is a
plain HTML form POST carrying its CSRF token, answered by a redirect back to the page with what
happened in a banner (post/redirect/get: reloading never repeats an action). Reads need any
token, changes an operator's; a viewer sees no action forms, and the server refuses (403) one
posted anyway.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import PurePath
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from retailflow.cockpit.actions import actions_of, engine_of
from retailflow.cockpit.auth import Operator, Viewer
from retailflow.cockpit.forms import TaskForm, submitted_variables, task_form
from retailflow.cockpit.overview import process_summaries
from retailflow.cockpit.templating import TEMPLATES, render
from retailflow.cockpit.values import json_or_text, search_value, variables_from_text
from retailflow.diagram import draw
from retailflow.diagram.heatmap import heatmap
from retailflow.diagram.instance_state import InstanceRecords, instance_overlay
from retailflow.diagram.model import FileModel, definition_files
from retailflow.engine import Engine
from retailflow.model import (
    InstanceQuery,
    InstanceStatus,
    NotFoundError,
    ProcessDefinition,
    RetailflowError,
    UserTask,
    VariableMatch,
)
from retailflow.model.kpis import as_seconds, short_duration

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25

TEMPLATES.env.filters["duration"] = lambda value: short_duration(as_seconds(value))
TEMPLATES.env.filters["when"] = lambda value: (
    value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else "-"
)
TEMPLATES.env.filters["json"] = lambda value: json.dumps(value, default=str, indent=1)
# A file is deployed under the path it was given; its name is what a person recognises.
TEMPLATES.env.filters["file_name"] = lambda name: PurePath(name).name


@router.get("/")
def home(_: Viewer) -> Response:
    """The cockpit opens on its processes."""
    return RedirectResponse("/processes", status_code=status.HTTP_303_SEE_OTHER)


# -- processes -------------------------------------------------------------------------------------


@router.get("/processes")
def processes(request: Request, principal: Viewer) -> Response:
    """Every deployed process with its versions and its instance counts by status (of all
    versions: an instance search narrows them). The KPIs are on each process's page: they
    are read from the whole history, which a list of every process should not wait for."""
    rows = [
        {
            "latest": found.versions[-1],
            "versions": found.versions,
            "counts": {s.value: found.instances.get(s, 0) for s in InstanceStatus},
        }
        for found in process_summaries(engine_of(request))
    ]
    statuses = [s.value for s in InstanceStatus]
    context = {"rows": rows, "statuses": statuses, "title": "Processes"}
    return render(request, "processes.html", context, principal=principal)


KPI_WINDOWS: dict[str, timedelta | None] = {
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}
"""The windows a process page offers, by the instances' start: the KPIs read only the history
of the instances started in the window, so a recent one answers quickly however long the
store's past (the last seven days unless the visitor picks another)."""

KpiWindowName = Literal["24h", "7d", "30d", "all"]


@router.get("/processes/{process_id}")
def process(
    request: Request,
    principal: Viewer,
    process_id: str,
    version: int | None = None,
    window: KpiWindowName = "7d",
) -> Response:
    """One process's diagram as a heatmap of its instances started in ``window`` (traffic and
    p90 time per element), with their KPIs and per-step table; the window ends at its newest
    start."""
    engine = engine_of(request)
    versions = [d for d in engine.definitions() if d.process_id == process_id]
    if not versions:
        raise NotFoundError(f"no process '{process_id}' is deployed")
    definition = next((d for d in versions if d.version == version), versions[-1])
    span = KPI_WINDOWS[window]
    # The window ends at the process's newest start, which is now on a live store: a store
    # whose activity ended earlier (the demo's fortnight, a copy of production) still shows its
    # last week rather than nothing.
    until: datetime | None = None
    since: datetime | None = None
    if span is not None:
        newest = engine.search_instances(
            InstanceQuery(process_id=process_id, limit=1, newest_first=True)
        )
        until = newest[0].started_at if newest else engine.clock.now()
        since = until - span
    kpis = next(iter(engine.kpis(process_id=process_id, since=since)), None)
    file = _file(engine, definition)
    overlay = heatmap(kpis) if kpis is not None else None
    context = {
        "definition": definition,
        "versions": versions,
        "kpis": kpis,
        "window": window,
        "windows": list(KPI_WINDOWS),
        "until": until,
        "steps": [s for s in kpis.steps if s.process_id == process_id] if kpis else [],
        "diagram": draw(file.layout, overlay, label=definition.name or process_id),
        "title": definition.name or process_id,
    }
    return render(request, "process.html", context, principal=principal)


def _file(engine: Engine, definition: ProcessDefinition) -> FileModel:
    return definition_files(engine.store, definition)[0]


# -- instances -------------------------------------------------------------------------------------


@router.get("/instances")
def instances(
    request: Request,
    principal: Viewer,
    process: Annotated[str, Query(max_length=200)] = "",
    status_: Annotated[str, Query(alias="status", max_length=20)] = "",
    business_key: Annotated[str, Query(max_length=200)] = "",
    variable: Annotated[str, Query(max_length=500)] = "",
    started_from: Annotated[str, Query(max_length=40)] = "",
    started_until: Annotated[str, Query(max_length=40)] = "",
    after: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """Instance search: by process, status, business key, a variable's value (``name=value``)
    and start time, newest first, a page at a time."""
    engine = engine_of(request)
    filters = {
        "process": process,
        "status": status_,
        "business_key": business_key,
        "variable": variable,
        "started_from": started_from,
        "started_until": started_until,
    }
    error = None
    found = []
    try:
        query = InstanceQuery(
            process_id=process or None,
            status=InstanceStatus(status_) if status_ else None,
            business_key=business_key or None,
            variable=_variable_match(variable) if variable else None,
            started_from=_moment(started_from, "started from"),
            started_until=_moment(started_until, "started until"),
            limit=PAGE_SIZE + 1,
            after=after or None,
            newest_first=True,
        )
        found = engine.search_instances(query)
    except (RetailflowError, ValueError) as problem:
        error = str(problem)
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    next_page = (
        "/instances?" + urlencode({**filters, "after": found[-1].id}) if more and found else None
    )
    context = {
        "instances": found,
        "filters": filters,
        "next_page": next_page,
        "error": error,
        "processes": sorted({d.process_id for d in engine.definitions()}),
        "statuses": [s.value for s in InstanceStatus],
        "title": "Instances",
    }
    return render(request, "instances.html", context, principal=principal)


def _variable_match(text: str) -> tuple[str, VariableMatch]:
    """``name=value``, the value read as the API reads one (``search_value``)."""
    name, equals, raw = text.partition("=")
    if not equals or not name.strip():
        raise RetailflowError(f"a variable filter is name=value, got {text!r}")
    return name.strip(), search_value(raw)


def _moment(text: str, what: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RetailflowError(
            f"{what}: {text!r} is not a date (2026-11-02 or 2026-11-02T07:00)"
        ) from None
    # The engine's clock and history are UTC; a date typed without a zone means UTC too.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@router.get("/incidents")
def incidents(request: Request, principal: Viewer) -> Response:
    """Every open incident, oldest first: where operations start the day."""
    engine = engine_of(request)
    found = sorted(engine.incidents(), key=lambda incident: incident.created_at)
    orders = {incident.instance_id: engine.instance(incident.instance_id) for incident in found}
    context = {"incidents": found, "orders": orders, "title": "Incidents"}
    return render(request, "incidents.html", context, principal=principal)


@router.get("/instances/{instance_id}")
def instance(request: Request, principal: Viewer, instance_id: str) -> Response:
    """One instance: its diagram with where it waits and the path it took, its variables,
    history timeline, jobs, subscriptions, tasks and incidents, and the operator's actions."""
    engine = engine_of(request)
    found = engine.instance(instance_id)
    definition = engine.store.get_definition(found.definition_id)
    records = InstanceRecords(
        history=engine.history(found),
        jobs=engine.jobs(instance=found),
        subscriptions=engine.subscriptions(instance=found),
        tasks=engine.tasks(instance=found),
        incidents=engine.incidents(instance=found),
    )
    file = _file(engine, definition)
    now = engine.clock.now()
    context = {
        "instance": found,
        "definition": definition,
        "records": records,
        "timers": [j for j in records.jobs if j.kind.value == "timer"],
        "work": [j for j in records.jobs if j.kind.value != "timer"],
        "job_states": {j.id: j.state_at(now).value for j in records.jobs},
        "names": {e.id: e.name for e in file.layout.elements.values()},
        "diagram": draw(
            file.layout,
            instance_overlay(records),
            label=f"{definition.name or definition.process_id} {found.business_key or found.id}",
        ),
        "done": request.query_params.get("done"),
        "error": request.query_params.get("error"),
        "title": f"{found.process_id} {found.business_key or found.id}",
    }
    return render(request, "instance.html", context, principal=principal)


def _acted(target: str, action: Callable[[], object], done: str) -> RedirectResponse:
    """Run an action and send the browser back to ``target`` saying how it went."""
    try:
        action()
    except RetailflowError as error:
        return _back(target, error=str(error))
    return _back(target, done=done)


def _back(target: str, **message: str) -> RedirectResponse:
    return RedirectResponse(f"{target}?{urlencode(message)}", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/instances/{instance_id}/retry")
def retry(
    request: Request,
    principal: Operator,
    instance_id: str,
    incident_id: Annotated[str, Form(max_length=100)],
    retries: Annotated[int, Form(ge=1, le=100)] = 1,
    variables: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    """Retry an incident's job, optionally with more runs and changed variables."""
    return _acted(
        f"/instances/{instance_id}",
        lambda: actions_of(request).retry(
            principal.name,
            incident_id,
            retries=retries,
            variables=variables_from_text(variables, f"retry of incident '{incident_id}'") or None,
        ),
        f"Incident retried with {retries} run(s).",
    )


@router.post("/instances/{instance_id}/cancel")
def cancel(request: Request, principal: Operator, instance_id: str) -> Response:
    """Cancel the instance where it stands."""
    return _acted(
        f"/instances/{instance_id}",
        lambda: actions_of(request).cancel(principal.name, instance_id),
        "Instance cancelled.",
    )


@router.post("/instances/{instance_id}/variables")
def set_variable(
    request: Request,
    principal: Operator,
    instance_id: str,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    value: Annotated[str, Form(max_length=100_000)],
) -> Response:
    """Set one variable; the value is read as JSON (``42``, ``"text"``, ``{...}``), or taken as
    text when it is not JSON."""
    parsed = json_or_text(value)
    return _acted(
        f"/instances/{instance_id}",
        lambda: actions_of(request).set_variables(principal.name, instance_id, {name: parsed}),
        f"Variable '{name}' set.",
    )


@router.post("/instances/{instance_id}/timers/{job_id}/fire")
def fire_timer(request: Request, principal: Operator, instance_id: str, job_id: str) -> Response:
    """Fire a waiting timer now."""
    return _acted(
        f"/instances/{instance_id}",
        lambda: actions_of(request).fire_timer(principal.name, job_id),
        "Timer fired.",
    )


@router.post("/instances/{instance_id}/correlate")
def correlate(
    request: Request,
    principal: Operator,
    instance_id: str,
    message: Annotated[str, Form(min_length=1, max_length=200)],
    key: Annotated[str, Form(max_length=500)] = "",
    variables: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    """Correlate a message (the instance page offers the ones it waits for)."""
    return _acted(
        f"/instances/{instance_id}",
        lambda: actions_of(request).correlate(
            principal.name,
            message,
            key=key or None,
            variables=variables_from_text(variables, f"message '{message}'") or None,
        ),
        f"Message '{message}' correlated.",
    )


# -- tasks ---------------------------------------------------------------------------------------


@router.get("/tasks")
def tasks(
    request: Request,
    principal: Viewer,
    assignee: Annotated[str, Query(max_length=200)] = "",
    group: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Open user tasks, by assignee or candidate group."""
    engine = engine_of(request)
    found = engine.tasks(assignee=assignee or None, candidate_group=group or None)
    # People know an order by its business key, not by an instance id.
    orders = {task.instance_id: engine.instance(task.instance_id) for task in found}
    context = {
        "tasks": found,
        "orders": orders,
        "filters": {"assignee": assignee, "group": group},
        "done": request.query_params.get("done"),
        "title": "Tasks",
    }
    return render(request, "tasks.html", context, principal=principal)


def _task(engine: Engine, task_id: str) -> tuple[UserTask, TaskForm]:
    task = engine.store.get_user_task(task_id)
    instance = engine.instance(task.instance_id)
    definition = engine.store.get_definition(instance.definition_id)
    resource = engine.store.get_resource(definition.content_hash)
    return task, task_form(resource, task)


@router.get("/tasks/{task_id}")
def task(request: Request, principal: Viewer, task_id: str) -> Response:
    """One task with the form its file designs (or its variables to edit)."""
    found, form = _task(engine_of(request), task_id)
    context = {
        "task": found,
        "form": form,
        "error": request.query_params.get("error"),
        "title": found.name or found.element_id,
    }
    return render(request, "task.html", context, principal=principal)


@router.post("/tasks/{task_id}/complete")
async def complete_task(request: Request, principal: Operator, task_id: str) -> Response:
    """Complete the task with what its form holds, typed as the form says."""
    engine = engine_of(request)
    _, form = await run_in_threadpool(_task, engine, task_id)
    submitted = await request.form()
    values: Mapping[str, str] = {
        key: value for key, value in submitted.items() if isinstance(value, str)
    }
    try:
        variables = submitted_variables(form, values)
    except RetailflowError as error:
        return _back(f"/tasks/{task_id}", error=str(error))

    def complete() -> object:
        return actions_of(request).complete_task(principal.name, task_id, variables)

    try:
        await run_in_threadpool(complete)
    except RetailflowError as error:
        return _back(f"/tasks/{task_id}", error=str(error))
    return _back("/tasks", done="Task completed.")
