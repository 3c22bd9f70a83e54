"""The cockpit's pages over every store kind: what they show, and what their forms do.

The browser tests (``browser/``) walk the main story in Chromium; these check each page and
action quickly through the ASGI app, with Bearer tokens (a page's form POST with the login
cookie also needs its CSRF token, which the browser tests cover).
"""

from __future__ import annotations

import re
from datetime import date

from cockpit_api_kit import ORDER_PROCESS, Cockpit

from retailflow.model import InstanceStatus


def state_of(html: str, element_id: str) -> str:
    """The diagram's ``data-state`` of one element on a page."""
    found = re.search(f'data-element-id="{element_id}" data-state="(\\w+)"', html)
    assert found, f"{element_id} is not on the diagram"
    return found.group(1)


def started(cockpit: Cockpit, key: str, **variables: object) -> str:
    """Start an order a second after the one before, so newest-first order is well defined."""
    cockpit.clock.advance(seconds=1)
    return cockpit.start_order(key, **variables)


def test_pages_need_a_token_and_send_a_browser_to_log_in(cockpit: Cockpit) -> None:
    assert cockpit.anonymous.get("/processes").status_code == 401
    answer = cockpit.anonymous.get(
        "/instances?status=running", headers={"accept": "text/html"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/instances%3Fstatus%3Drunning"


def test_processes_page_counts_instances_by_status_and_the_process_page_draws_its_heatmap(
    cockpit: Cockpit,
) -> None:
    cockpit.start_order("SO-1")
    cockpit.start_order("SO-2")
    page = cockpit.viewer.get("/processes").text
    row = re.search(f'<tr data-process="{ORDER_PROCESS}">(.*?)</tr>', page, re.S)
    assert row and '">2</a>' in row.group(1)
    heat = cockpit.viewer.get(f"/processes/{ORDER_PROCESS}").text
    assert state_of(heat, "reserve_stock") == "heat"
    assert state_of(heat, "ship_order") == "plain"  # no order got that far


def test_the_process_page_counts_the_instances_started_in_the_window_the_visitor_picks(
    cockpit: Cockpit,
) -> None:
    cockpit.start_order("SO-old")
    cockpit.clock.advance(days=10)
    cockpit.start_order("SO-new")

    def started(query: str) -> str:
        page = cockpit.viewer.get(f"/processes/{ORDER_PROCESS}{query}").text
        found = re.search(r"<dt>Started</dt><dd>(\d+)</dd>", page)
        assert found, page
        return found.group(1)

    assert started("") == started("?window=7d") == "1"
    assert started("?window=30d") == started("?window=all") == "2"
    assert cockpit.viewer.get(f"/processes/{ORDER_PROCESS}?window=year").status_code == 422


def test_a_process_whose_activity_ended_weeks_ago_shows_its_last_week_not_nothing(
    cockpit: Cockpit,
) -> None:
    cockpit.start_order("SO-early")
    cockpit.clock.advance(days=10)
    cockpit.start_order("SO-last")
    cockpit.clock.advance(days=60)  # nothing started since

    page = cockpit.viewer.get(f"/processes/{ORDER_PROCESS}").text

    assert re.search(r"<dt>Started</dt><dd>1</dd>", page), page
    assert 'data-state="heat"' in page


def test_instance_search_filters_by_key_variable_status_and_date_and_pages(
    cockpit: Cockpit,
) -> None:
    ids = [started(cockpit, f"SO-{n}", channel="web" if n % 2 else "store") for n in range(5)]
    cockpit.operator.post(f"/api/v1/instances/{ids[0]}/cancel")

    def found(query: str) -> list[str]:
        page = cockpit.viewer.get(f"/instances?{query}").text
        return re.findall(r'<tr data-instance="(\w+)"', page)

    assert found("business_key=SO-3") == [ids[3]]
    assert found("variable=channel%3Dweb") == [ids[3], ids[1]]  # newest first
    assert found("variable=channel%3D%22store%22") == [ids[4], ids[2], ids[0]]  # JSON, as the API
    refused = cockpit.viewer.get("/instances?variable=channel%3D%5B1%5D").text
    assert "a search compares one string, number or boolean" in refused
    assert found("status=cancelled") == [ids[0]]
    assert found("started_from=2999-01-01") == []
    assert "is not a date" in cockpit.viewer.get("/instances?started_from=soon").text
    # Paging: 25 a page, the link carries the last one seen.
    for n in range(25):
        started(cockpit, f"SO-P{n}")
    first = cockpit.viewer.get("/instances").text
    link = re.search(r'href="(/instances\?[^"]*after=\w+)" rel="next"', first)
    assert link, "no link to the next page"
    second = re.findall(
        r'<tr data-instance="(\w+)"', cockpit.viewer.get(link.group(1).replace("&amp;", "&")).text
    )
    assert second == list(reversed(ids))


def test_operator_retries_an_incident_with_changed_variables_and_a_viewer_is_refused(
    cockpit: Cockpit,
) -> None:
    cockpit.stock.broken = True
    instance = cockpit.start_order("SO-9")
    listed = cockpit.viewer.get("/incidents").text
    assert "SO-9" in listed and "warehouse system down" in listed
    page = cockpit.viewer.get(f"/instances/{instance}").text
    assert state_of(page, "reserve_stock") == "incident"
    assert "warehouse system down" in page and 'name="retry"' not in page
    [incident] = cockpit.engine.incidents(instance=instance)
    # Typed variables read as the API reads them: the tag makes a date, not a dict.
    form = {
        "incident_id": incident.id,
        "variables": '{"warehouse_open": true, "promised": {"$date": "2026-12-24"}}',
    }
    refused = cockpit.viewer.post(f"/instances/{instance}/retry", data=form)
    assert refused.status_code == 403
    assert 'name="retry"' in cockpit.operator.get(f"/instances/{instance}").text
    done = cockpit.operator.post(f"/instances/{instance}/retry", data=form)
    assert "Incident retried with 1 run(s)." in done.text
    cockpit.engine.run()
    page = cockpit.viewer.get(f"/instances/{instance}").text
    assert state_of(page, "reserve_stock") == "passed"
    assert "No open incident." in cockpit.viewer.get("/incidents").text
    assert state_of(page, "wait_for_payment") == "waiting"
    assert "by operator-ann" in page
    assert cockpit.engine.instance(instance).variables["promised"] == date(2026, 12, 24)


def test_a_failing_action_comes_back_as_a_message_on_the_page(cockpit: Cockpit) -> None:
    instance = cockpit.start_order("SO-1")
    answer = cockpit.operator.post(
        f"/instances/{instance}/retry", data={"incident_id": "nope"}, follow_redirects=False
    )
    assert answer.status_code == 303 and "error=" in answer.headers["location"]
    page = cockpit.operator.get(answer.headers["location"]).text
    assert 'class="banner bad"' in page and "nope" in page


def test_operator_sets_a_variable_fires_the_timer_and_cancels_from_the_instance_page(
    cockpit: Cockpit,
) -> None:
    instance = cockpit.start_order("SO-1")
    page = cockpit.operator.get(f"/instances/{instance}").text
    assert "timer" in page and "payment_received" in page and "SO-1" in page
    cockpit.operator.post(
        f"/instances/{instance}/variables", data={"name": "note", "value": '{"gift": true}'}
    )
    assert cockpit.engine.instance(instance).variables["note"] == {"gift": True}
    [timer] = [j for j in cockpit.engine.jobs(instance=instance) if j.kind.value == "timer"]
    fired = cockpit.operator.post(f"/instances/{instance}/timers/{timer.id}/fire")
    assert "Timer fired." in fired.text
    cockpit.engine.run()
    assert cockpit.engine.instance(instance).status == InstanceStatus.COMPLETED
    other = cockpit.start_order("SO-2")
    cockpit.operator.post(f"/instances/{other}/cancel")
    assert cockpit.engine.instance(other).status == InstanceStatus.CANCELLED


def test_correlating_from_the_page_moves_the_order_to_its_user_task_completed_by_its_form(
    cockpit: Cockpit,
) -> None:
    instance = cockpit.start_order("SO-1")
    cockpit.operator.post(
        f"/instances/{instance}/correlate",
        data={"message": "payment_received", "key": "SO-1", "variables": '{"paid": true}'},
    )
    [task] = cockpit.engine.tasks(instance=instance)
    listed = cockpit.viewer.get("/tasks").text
    assert f'data-task="{task.id}"' in listed
    form = cockpit.viewer.get(f"/tasks/{task.id}").text
    assert 'data-source="variables"' in form and 'name="paid"' in form
    assert "needs an operator" in form
    assert cockpit.viewer.post(f"/tasks/{task.id}/complete", data={}).status_code == 403
    done = cockpit.operator.post(f"/tasks/{task.id}/complete", data={"paid": "false"})
    assert "Task completed." in done.text
    cockpit.engine.run()
    assert cockpit.engine.tasks(instance=instance) == []
    assert cockpit.engine.instance(instance).variables["paid"] is False
