"""The cockpit as an operator and a viewer use it, in a real browser.

Each test leaves a screenshot of the page it checked in ``cockpit-screenshots/`` (docs/cockpit.md
shows them).
"""

from __future__ import annotations

from cockpit_browser import DEADLINE_MS, Cockpit, logged_in, screenshot
from playwright.sync_api import Browser, Page, expect


def wait_for_state(page: Page, element_id: str, state: str) -> None:
    """Reload until the diagram shows ``element_id`` in ``state``: the worker moves the
    instance on in its own time."""
    shape = page.locator(f'svg.diagram [data-element-id="{element_id}"]')
    for _ in range(200):
        if shape.get_attribute("data-state") == state:
            return
        page.wait_for_timeout(100)
        page.reload()
    raise AssertionError(
        f"{element_id} never showed {state!r}: {shape.get_attribute('data-state')}"
    )


def test_a_request_without_a_token_gets_401_and_a_browser_is_sent_to_log_in(
    browser: Browser, cockpit: Cockpit
) -> None:
    context = browser.new_context()
    answer = context.request.get(f"{cockpit.url}/api/v1/processes")
    assert answer.status == 401
    page = context.new_page()
    page.goto(f"{cockpit.url}/instances/{cockpit.orders['SO-1001']}")
    expect(page.locator("#token")).to_be_visible()
    assert "/login?next=" in page.url
    screenshot(page, "login")
    context.close()


def test_operator_finds_the_failed_order_sees_it_on_the_diagram_retries_it_and_it_moves_on(
    browser: Browser, cockpit: Cockpit
) -> None:
    page = logged_in(browser, cockpit, cockpit.operator_token)
    page.click("nav >> text=Incidents")
    expect(page.locator("#incidents tbody tr[data-incident]", has_text="SO-1001")).to_contain_text(
        "no stock of SKU 'OUT'"
    )
    screenshot(page, "incidents")
    page.click("nav >> text=Instances")
    page.select_option("select[name=status]", "running")
    page.fill("input[name=business_key]", "SO-1001")
    page.click("form.search button")
    rows = page.locator("#instances tbody tr[data-instance]")
    expect(rows).to_have_count(1)
    screenshot(page, "instances")
    rows.first.locator("a").click()

    expect(page.locator("#incident-flag")).to_have_text("1 incident(s)")
    reserve = page.locator('svg.diagram [data-element-id="Reserve_stock"]')
    expect(reserve).to_have_attribute("data-state", "incident")
    expect(page.locator('svg.diagram [data-element-id="Order_received"]')).to_have_attribute(
        "data-state", "passed"
    )
    expect(page.locator("#incidents .message")).to_contain_text("no stock of SKU 'OUT'")
    screenshot(page, "instance-incident")

    # The fix the failure needs: another SKU, set with the retry.
    page.fill("#incidents input[name=variables]", '{"sku": "A"}')
    page.click("#incidents button[name=retry]")
    expect(page.locator(".banner.ok")).to_have_text("Incident retried with 1 run(s).")
    wait_for_state(page, "Approve_order", "waiting")
    expect(reserve).to_have_attribute("data-state", "passed")
    expect(page.locator("#incidents")).to_have_count(0)
    expect(page.locator("#history .actor").first).to_have_text("by olivia")
    screenshot(page, "instance-after-retry")


def test_a_viewer_sees_no_actions_and_its_retry_is_refused(
    browser: Browser, cockpit: Cockpit
) -> None:
    page = logged_in(browser, cockpit, cockpit.viewer_token)
    page.goto(f"{cockpit.url}/instances/{cockpit.orders['SO-1002']}")
    incident = page.locator("#incidents article[data-incident]")
    expect(incident).to_have_count(1)
    expect(page.locator("button[name=retry]")).to_have_count(0)
    # Posted anyway, with the page's own CSRF token: the server refuses it.
    csrf = page.locator("form.who input[name=csrf_token]").get_attribute("value")
    answer = page.request.post(
        f"{cockpit.url}/instances/{cockpit.orders['SO-1002']}/retry",
        form={"csrf_token": csrf or "", "incident_id": incident.get_attribute("data-incident")},
    )
    assert answer.status == 403
    assert "viewer" in answer.json()["detail"]
    page.reload()
    expect(page.locator('svg.diagram [data-element-id="Reserve_stock"]')).to_have_attribute(
        "data-state", "incident"
    )


def test_processes_page_lists_versions_counts_and_kpis_and_draws_the_heatmap(
    browser: Browser, cockpit: Cockpit
) -> None:
    page = logged_in(browser, cockpit, cockpit.viewer_token)
    page.goto(f"{cockpit.url}/processes")
    row = page.locator('#definitions tr[data-process="order_check"]')
    expect(row).to_contain_text("Order check")
    expect(row.locator("td.num").first).to_have_text("5")  # running
    screenshot(page, "processes")
    row.locator("a").first.click()
    expect(page.locator("dl.kpis")).to_contain_text("Incident rate")
    start = page.locator('svg.diagram [data-element-id="Order_received"]')
    expect(start).to_have_attribute("data-state", "heat")
    expect(start.locator(".badge")).to_have_text("6")
    for pool_or_lane in ("Shop", "Lane_warehouse", "Lane_sales", "Note_stock"):
        expect(page.locator(f'svg.diagram [data-element-id="{pool_or_lane}"]')).to_have_count(1)
    expect(page.locator("#steps")).to_contain_text("Reserve_stock")
    screenshot(page, "process-heatmap")


def test_task_list_shows_the_camunda_form_and_completing_it_moves_the_order_on(
    browser: Browser, cockpit: Cockpit
) -> None:
    page = logged_in(browser, cockpit, cockpit.operator_token)
    page.goto(f"{cockpit.url}/tasks?group=sales")
    tasks = page.locator("#tasks tbody tr[data-task]")
    expect(tasks.first).to_be_visible()
    screenshot(page, "tasks")
    order = cockpit.orders["SO-1003"]
    page.locator("#tasks tr", has_text="SO-1003").locator("a").first.click()
    form = page.locator("form.task-form")
    expect(form).to_have_attribute("data-source", "camunda-form")
    expect(form).to_contain_text("Check the order before it ships.")
    page.check("input[name=approved]")
    page.fill("input[name=note]", "Packed with care")
    page.select_option("select[name=priority]", "express")
    screenshot(page, "task-form")
    page.click("form.task-form button[type=submit]")
    expect(page.locator(".banner.ok")).to_have_text("Task completed.")
    page.goto(f"{cockpit.url}/instances/{order}")
    wait_for_state(page, "Payment_received", "waiting")
    expect(page.locator("#variables")).to_contain_text("Packed with care")
    expect(page.locator("#waiting")).to_contain_text("SO-1003")
    screenshot(page, "instance-waiting-for-payment")
    assert DEADLINE_MS > 0
