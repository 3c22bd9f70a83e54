"""The REST API on every store: each endpoint does what it says, records who acted, and
answers bad input with a 4xx and a message, never a 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from cockpit_api_kit import ORDER_PROCESS, Cockpit
from fastapi.testclient import TestClient

from retailflow.model import HistoryKind
from scenario_kit import FIXTURES

OPERATOR = "operator-ann"


def _actors(cockpit: Cockpit, instance_id: str, kind: HistoryKind) -> list[str | None]:
    return [e.actor for e in cockpit.engine.history(instance_id) if e.kind == kind]


def _routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) of the API, ids filled with ``nope``."""
    document = client.get("/api/v1/openapi.json").json()
    return [
        (method.upper(), path.replace("{", "").replace("}", "").replace("_id", "-nope"))
        for path, item in document["paths"].items()
        for method in item
    ]


# -- security --------------------------------------------------------------------------------------
def test_every_endpoint_answers_401_without_a_token(cockpit: Cockpit) -> None:
    routes = _routes(cockpit.viewer)
    assert len(routes) >= 18
    for method, path in [*routes, ("GET", "/api/v1/openapi.json"), ("GET", "/metrics")]:
        answer = cockpit.anonymous.request(method, path)
        assert answer.status_code == 401, (method, path)
        assert "token" in answer.json()["detail"]
    wrong = cockpit.anonymous.get("/api/v1/processes", headers={"Authorization": "Bearer rf_x"})
    assert wrong.status_code == 401
    basic = cockpit.anonymous.get("/api/v1/processes", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401


def test_a_viewer_reads_but_every_action_is_refused_with_403(cockpit: Cockpit) -> None:
    instance_id = cockpit.start_order()
    assert cockpit.viewer.get(f"/api/v1/instances/{instance_id}").status_code == 200
    actions = [(m, p) for m, p in _routes(cockpit.viewer) if m != "GET"]
    assert len(actions) >= 9
    for method, path in actions:
        answer = cockpit.viewer.request(method, path, json={})
        assert answer.status_code == 403, (method, path)
        assert "operator" in answer.json()["detail"]
    assert cockpit.engine.instance(instance_id).status == "running"


def test_openapi_document_describes_the_api_only(cockpit: Cockpit) -> None:
    document = cockpit.viewer.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert all(path.startswith("/api/v1/") for path in document["paths"])
    assert {"/api/v1/instances", "/api/v1/messages", "/api/v1/deployments"} <= set(
        document["paths"]
    )
    assert document["security"] == [{"bearer": []}]


# -- processes and deployments ---------------------------------------------------------------------
def test_processes_list_versions_and_instance_counts_by_status(cockpit: Cockpit) -> None:
    cockpit.start_order("SO-1")
    cancelled = cockpit.start_order("SO-2")
    cockpit.operator.post(f"/api/v1/instances/{cancelled}/cancel")

    listed = {p["process_id"]: p for p in cockpit.viewer.get("/api/v1/processes").json()}
    order = listed[ORDER_PROCESS]
    assert [v["version"] for v in order["versions"]] == [1]
    assert order["instances"] == {"running": 1, "cancelled": 1}
    assert listed["signal_catch"]["instances"] == {}


def test_kpis_and_diagram_of_a_process(cockpit: Cockpit) -> None:
    cockpit.start_order()
    [kpis] = cockpit.viewer.get(f"/api/v1/processes/{ORDER_PROCESS}/kpis").json()
    assert kpis["process_id"] == ORDER_PROCESS and kpis["started"] == 1 and kpis["open"] == 1
    xml = cockpit.viewer.get(f"/api/v1/definitions/{ORDER_PROCESS}:1/xml")
    assert xml.headers["content-type"].startswith("application/xml")
    assert b"bpmndi:BPMNDiagram" in xml.content


def test_deploy_uploaded_files_then_the_same_again_is_unchanged(cockpit: Cockpit) -> None:
    content = (FIXTURES / "gateways.bpmn").read_bytes()
    files = [("files", ("gateways.bpmn", content, "application/xml"))]
    first = cockpit.operator.post("/api/v1/deployments", files=files)
    assert first.status_code == 201, first.text
    assert [d["id"] for d in first.json()["created"]] == ["gateways:1"]
    again = cockpit.operator.post("/api/v1/deployments", files=files).json()
    assert again["created"] == [] and [d["id"] for d in again["unchanged"]] == ["gateways:1"]


def test_a_broken_or_unknown_file_is_refused_with_its_findings(cockpit: Cockpit) -> None:
    broken = [("files", ("broken.bpmn", b"<definitions>not bpmn", "application/xml"))]
    answer = cockpit.operator.post("/api/v1/deployments", files=broken)
    assert answer.status_code == 422
    assert answer.json()["findings"] and "broken.bpmn" in answer.json()["detail"]
    text = [("files", ("notes.txt", b"hello", "text/plain"))]
    assert cockpit.operator.post("/api/v1/deployments", files=text).status_code == 422
    assert cockpit.operator.post("/api/v1/deployments").status_code == 422


# -- instances: start, search, detail, history -----------------------------------------------------
def test_search_by_process_status_key_variable_and_start_time_pages_through(
    cockpit: Cockpit,
) -> None:
    ids = []
    for n in range(5):
        ids.append(cockpit.start_order(f"SO-{n}", channel="web" if n % 2 else "store"))
        cockpit.clock.advance(minutes=1)
    cockpit.operator.post(f"/api/v1/instances/{ids[0]}/cancel")

    def search(**params: Any) -> list[str]:
        answer = cockpit.viewer.get("/api/v1/instances", params=params)
        assert answer.status_code == 200, answer.text
        return [i["id"] for i in answer.json()["items"]]

    assert search(process_id=ORDER_PROCESS) == ids[::-1]
    assert search(order="oldest") == ids
    assert search(status="cancelled") == [ids[0]]
    assert search(business_key="SO-3") == [ids[3]]
    assert search(variable="channel", value="web", order="oldest") == [ids[1], ids[3]]
    assert search(variable="channel", value='"store"', order="oldest") == [ids[0], ids[2], ids[4]]
    assert search(variable="stock_reserved", value="true") == ids[::-1]
    assert search(variable="stock_reserved", value="1") == []
    second = cockpit.engine.instance(ids[1]).started_at
    assert (
        search(
            started_from=second.isoformat(),
            started_until=(second + timedelta(minutes=2)).isoformat(),
            order="oldest",
        )
        == ids[1:3]
    )

    pages: list[list[str]] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 2, "order": "oldest"}
        if after:
            params["after"] = after
        page = cockpit.viewer.get("/api/v1/instances", params=params).json()
        pages.append([i["id"] for i in page["items"]])
        after = page["next_after"]
        if after is None:
            break
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]


def test_instance_detail_shows_the_message_it_waits_for_and_its_timer(cockpit: Cockpit) -> None:
    instance_id = cockpit.start_order("SO-7")
    detail = cockpit.viewer.get(f"/api/v1/instances/{instance_id}").json()
    assert detail["instance"]["business_key"] == "SO-7"
    assert detail["instance"]["variables"]["stock_reserved"] is True
    [subscription] = detail["subscriptions"]
    assert subscription["name"] == "payment_received"
    assert subscription["correlation_key"] == "SO-7"
    [timer] = detail["jobs"]
    assert timer["element_id"] == "payment_timeout" and timer["state"] == "scheduled"
    assert detail["tasks"] == [] and detail["incidents"] == []

    history = cockpit.viewer.get(f"/api/v1/instances/{instance_id}/history").json()
    assert history[0]["kind"] == "instance_started" and history[0]["actor"] == OPERATOR
    completed = [h["element_id"] for h in history if h["kind"] == "element_completed"]
    assert "reserve_stock" in completed


# -- actions, each recorded with who did it ---------------------------------------------------
def test_correlate_then_complete_the_task_records_the_operator(cockpit: Cockpit) -> None:
    instance_id = cockpit.start_order("SO-1")
    answer = cockpit.operator.post(
        "/api/v1/messages", json={"name": "payment_received", "key": "SO-1"}
    )
    assert answer.status_code == 200 and answer.json()["instance"]["id"] == instance_id
    [task] = cockpit.viewer.get("/api/v1/tasks", params={"candidate_group": "warehouse"}).json()
    assert task["instance_id"] == instance_id and task["element_id"] == "pick_and_pack"
    assert cockpit.viewer.get(f"/api/v1/tasks/{task['id']}").json()["form_key"]

    done = cockpit.operator.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"variables": {"packed_by": "ana"}}
    )
    assert done.status_code == 200, done.text
    cockpit.engine.run()
    assert cockpit.engine.instance(instance_id).status == "completed"
    assert _actors(cockpit, instance_id, HistoryKind.MESSAGE_CORRELATED) == [OPERATOR]
    completions = [
        e
        for e in cockpit.engine.history(instance_id)
        if e.kind == HistoryKind.ELEMENT_COMPLETED and e.element_id == "pick_and_pack"
    ]
    assert [e.actor for e in completions] == [OPERATOR]
    # What the engine did on its own (the worker's jobs) names nobody.
    assert set(_actors(cockpit, instance_id, HistoryKind.INSTANCE_COMPLETED)) == {None}


def test_a_message_nobody_waits_for_is_404_or_buffered_with_a_ttl(cockpit: Cockpit) -> None:
    nobody = cockpit.operator.post(
        "/api/v1/messages", json={"name": "payment_received", "key": "SO-9"}
    )
    assert nobody.status_code == 404 and "SO-9" in nobody.json()["detail"]
    kept = cockpit.operator.post(
        "/api/v1/messages",
        json={"name": "payment_received", "key": "SO-9", "ttl_seconds": 600},
    )
    assert kept.status_code == 200 and kept.json() == {"instance": None}
    instance_id = cockpit.start_order("SO-9")
    assert cockpit.engine.tasks(instance=instance_id)[0].element_id == "pick_and_pack"


def test_broadcast_signal_reaches_waiting_and_starts_new_instances(cockpit: Cockpit) -> None:
    waiting = cockpit.operator.post("/api/v1/processes/signal_catch/instances", json={})
    reached = cockpit.operator.post("/api/v1/signals", json={"name": "flash_sale"})
    assert reached.status_code == 200, reached.text
    processes = sorted(i["process_id"] for i in reached.json())
    assert processes == ["signal_catch", "signal_start"]
    waiting_id = waiting.json()["id"]
    assert _actors(cockpit, waiting_id, HistoryKind.SIGNAL_RECEIVED) == [OPERATOR]


def test_cancel_ends_the_instance_and_a_second_cancel_is_a_conflict(cockpit: Cockpit) -> None:
    instance_id = cockpit.start_order()
    answer = cockpit.operator.post(f"/api/v1/instances/{instance_id}/cancel")
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    assert _actors(cockpit, instance_id, HistoryKind.INSTANCE_CANCELLED) == [OPERATOR]
    again = cockpit.operator.post(f"/api/v1/instances/{instance_id}/cancel")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]


def test_fire_a_timer_now_moves_the_instance_on_its_timeout_path(cockpit: Cockpit) -> None:
    instance_id = cockpit.start_order()
    [timer] = cockpit.viewer.get("/api/v1/jobs", params={"instance_id": instance_id}).json()
    fired = cockpit.operator.post(f"/api/v1/jobs/{timer['id']}/fire")
    assert fired.status_code == 200, fired.text
    cockpit.engine.run()
    assert cockpit.engine.instance(instance_id).status == "completed"
    assert _actors(cockpit, instance_id, HistoryKind.TIMER_FIRED) == [OPERATOR]
    ended = [e.element_id for e in cockpit.engine.history(instance_id)][-2:]
    assert "order_cancelled" in ended


def test_firing_a_job_that_is_no_timer_is_refused(cockpit: Cockpit) -> None:
    cockpit.stock.broken = True
    instance_id = cockpit.start_order()
    [job] = cockpit.viewer.get("/api/v1/jobs", params={"instance_id": instance_id}).json()
    answer = cockpit.operator.post(f"/api/v1/jobs/{job['id']}/fire")
    assert answer.status_code == 400 and "not an instance's timer" in answer.json()["detail"]


def test_set_variables_changes_them_where_the_instance_stands(cockpit: Cockpit) -> None:
    instance_id = cockpit.start_order()
    answer = cockpit.operator.patch(
        f"/api/v1/instances/{instance_id}/variables",
        json={"variables": {"priority": 2, "due": {"$date": "2026-12-24"}}},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["variables"]["due"] == {"$date": "2026-12-24"}
    variables = cockpit.engine.instance(instance_id).variables
    assert variables["priority"] == 2 and variables["order_id"] == "SO-1"
    assert str(variables["due"]) == "2026-12-24"
    assert _actors(cockpit, instance_id, HistoryKind.VARIABLES_SET) == [OPERATOR]
    # The new value travels on: the task after payment sees it.
    cockpit.operator.post("/api/v1/messages", json={"name": "payment_received", "key": "SO-1"})
    [task] = cockpit.engine.tasks(instance=instance_id)
    assert task.variables["priority"] == 2


def test_retry_an_incident_with_changed_variables_resumes_the_order(cockpit: Cockpit) -> None:
    cockpit.stock.broken = True
    instance_id = cockpit.start_order()
    [incident] = cockpit.viewer.get("/api/v1/incidents").json()
    assert incident["instance_id"] == instance_id
    assert "warehouse system down" in incident["message"]
    failed = cockpit.viewer.get("/api/v1/jobs", params={"state": "failed"}).json()
    assert [j["id"] for j in failed] == [incident["job_id"]]

    answer = cockpit.operator.post(
        f"/api/v1/incidents/{incident['id']}/retry",
        json={"retries": 2, "variables": {"warehouse_open": True}},
    )
    assert answer.status_code == 200 and answer.json() == {"retried": 1}
    cockpit.engine.run()
    assert cockpit.viewer.get("/api/v1/incidents").json() == []
    assert cockpit.engine.instance(instance_id).variables["stock_reserved"] is True
    assert _actors(cockpit, instance_id, HistoryKind.INCIDENT_RESOLVED) == [OPERATOR]
    assert _actors(cockpit, instance_id, HistoryKind.VARIABLES_SET) == [OPERATOR]


# -- bad input: a 4xx with a message, never a 500 -------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/instances/nope", None),
        ("GET", "/api/v1/instances/nope/history", None),
        ("GET", "/api/v1/tasks/nope", None),
        ("GET", "/api/v1/jobs?instance_id=nope", None),
        ("GET", "/api/v1/incidents?instance_id=nope", None),
        ("GET", "/api/v1/definitions/nope:1/xml", None),
        ("GET", "/api/v1/instances?after=nope", None),
        ("POST", "/api/v1/processes/nope/instances", {}),
        ("POST", "/api/v1/instances/nope/cancel", None),
        ("PATCH", "/api/v1/instances/nope/variables", {"variables": {"a": 1}}),
        ("POST", "/api/v1/jobs/nope/fire", None),
        ("POST", "/api/v1/incidents/nope/retry", {}),
        ("POST", "/api/v1/tasks/nope/complete", {}),
        ("POST", "/api/v1/messages", {"name": "never_drawn"}),
    ],
)
def test_unknown_ids_are_404_with_a_message(
    cockpit: Cockpit, method: str, path: str, body: dict[str, Any] | None
) -> None:
    answer = cockpit.operator.request(method, path, json=body)
    assert answer.status_code == 404, answer.text
    assert answer.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body", "complaint"),
    [
        ("GET", "/api/v1/instances?limit=0", None, "limit"),
        ("GET", "/api/v1/instances?limit=many", None, "limit"),
        ("GET", "/api/v1/instances?status=sleeping", None, "status"),
        ("GET", "/api/v1/instances?started_from=yesterday", None, "started_from"),
        ("GET", "/api/v1/instances?started_from=2026-12-08T09:00:00", None, "time zone"),
        ("GET", "/api/v1/instances?variable=a", None, "value="),
        ("GET", "/api/v1/instances?variable=a&value=[1]", None, "one string"),
        ("GET", "/api/v1/jobs?state=sleeping", None, "state"),
        ("POST", f"/api/v1/processes/{ORDER_PROCESS}/instances", {"variables": [1]}, "variables"),
        ("POST", f"/api/v1/processes/{ORDER_PROCESS}/instances", {"colour": "red"}, "colour"),
        (
            "POST",
            f"/api/v1/processes/{ORDER_PROCESS}/instances",
            {"variables": {"due": {"$date": "soon"}}},
            "tagged value",
        ),
        ("POST", "/api/v1/messages", {"name": ""}, "name"),
        ("POST", "/api/v1/messages", {"name": "m", "ttl_seconds": -1}, "ttl_seconds"),
        ("POST", "/api/v1/messages", {"name": "m", "ttl_seconds": 1e300}, "ttl_seconds"),
        ("POST", "/api/v1/messages", {"name": 5}, "name"),
        ("POST", "/api/v1/signals", {}, "name"),
        ("POST", "/api/v1/incidents/x/retry", {"retries": 0}, "retries"),
        ("POST", "/api/v1/incidents/x/retry", {"retries": "lots"}, "retries"),
        ("PATCH", "/api/v1/instances/x/variables", {"variables": {}}, "variables"),
    ],
)
def test_wrong_types_and_values_are_4xx_with_a_message(
    cockpit: Cockpit, method: str, path: str, body: Any, complaint: str
) -> None:
    answer = cockpit.operator.request(method, path, json=body)
    assert answer.status_code in (400, 422), answer.text
    assert complaint in answer.json()["detail"]


def test_malformed_json_and_oversized_bodies_are_refused(cockpit: Cockpit) -> None:
    path = f"/api/v1/processes/{ORDER_PROCESS}/instances"
    malformed = cockpit.operator.post(
        path, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422 and malformed.json()["detail"]
    huge = {"variables": {"blob": "x" * (65 * 1024)}}
    oversized = cockpit.operator.post(path, json=huge)
    assert oversized.status_code == 413 and "larger than" in oversized.json()["detail"]

    def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 1024

    streamed = cockpit.operator.post(
        path, content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert cockpit.engine.instances() == []


def test_deeply_nested_variables_are_refused_not_crashed_on(cockpit: Cockpit) -> None:
    for depth in (100, 600, 5000):
        nested = b"[" * depth + b"]" * depth
        answer = cockpit.operator.post(
            f"/api/v1/processes/{ORDER_PROCESS}/instances",
            content=b'{"variables": {"deep": ' + nested + b"}}",
            headers={"content-type": "application/json"},
        )
        assert 400 <= answer.status_code < 500, depth
        assert answer.json()["detail"]


def test_non_finite_numbers_in_variables_are_refused(cockpit: Cockpit) -> None:
    answer = cockpit.operator.post(
        f"/api/v1/processes/{ORDER_PROCESS}/instances",
        content=b'{"variables": {"amount": 1e999}}',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 422 and "amount" in answer.json()["detail"]
