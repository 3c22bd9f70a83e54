"""A browser logs in with its token, carries it in an HttpOnly SameSite=Strict cookie, and
every change it makes needs the CSRF token of its login."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from retailflow import Engine
from retailflow.cockpit import create_app
from retailflow.cockpit.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    LOGIN_COOKIE,
    Operator,
    Principal,
    Viewer,
    create_token,
    csrf_token,
    hash_token,
)
from retailflow.model import Role


@pytest.fixture
def engine() -> Engine:
    return Engine()


@pytest.fixture
def browser(engine: Engine) -> TestClient:
    return TestClient(create_app(engine), base_url="https://cockpit.test")


def _log_in(browser: TestClient, engine: Engine, role: Role = Role.OPERATOR) -> str:
    secret = create_token(engine.store, "ann", role, datetime.now(UTC))
    answer = browser.post(
        "/login", data={"token": secret, "next": "/somewhere"}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/somewhere"
    return answer.headers["set-cookie"]


def test_login_sets_an_httponly_samesite_strict_secure_cookie(
    browser: TestClient, engine: Engine
) -> None:
    cookie = _log_in(browser, engine)
    assert cookie.startswith(f"{LOGIN_COOKIE}=rf_")
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "secure", "path=/"} <= flags
    assert browser.get("/api/v1/processes").status_code == 200


def test_no_other_site_may_frame_the_cockpit(browser: TestClient) -> None:
    for answer in (browser.get("/login"), browser.get("/api/v1/processes")):
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"


def test_a_wrong_token_shows_the_login_page_again_with_401(browser: TestClient) -> None:
    answer = browser.post("/login", data={"token": "rf_guess"}, follow_redirects=False)
    assert answer.status_code == 401 and "Unknown token" in answer.text
    assert LOGIN_COOKIE not in answer.cookies


def test_a_page_without_login_redirects_to_the_login_page(engine: Engine) -> None:
    app = create_app(engine)
    page_router = APIRouter()

    @page_router.get("/instances", response_class=HTMLResponse)
    def instances(_: Viewer) -> str:
        return "<h1>instances</h1>"

    app.include_router(page_router)
    browser = TestClient(app)
    answer = browser.get(
        "/instances?status=running", headers={"accept": "text/html"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/instances%3Fstatus%3Drunning"
    assert "Token" in browser.get("/login").text
    # A script asking for JSON gets the 401 itself.
    assert browser.get("/instances").status_code == 401


def test_login_never_sends_the_browser_to_another_site(browser: TestClient, engine: Engine) -> None:
    secret = create_token(engine.store, "bo", Role.VIEWER, datetime.now(UTC))
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        answer = browser.post(
            "/login", data={"token": secret, "next": target}, follow_redirects=False
        )
        assert answer.headers["location"] == "/", target


def test_a_change_riding_on_the_cookie_needs_the_csrf_token(
    browser: TestClient, engine: Engine
) -> None:
    _log_in(browser, engine)
    refused = browser.post("/api/v1/signals", json={"name": "flash_sale"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    wrong = browser.post(
        "/api/v1/signals", json={"name": "flash_sale"}, headers={CSRF_HEADER: "0" * 64}
    )
    assert wrong.status_code == 403
    token = engine.store.find_token(hash_token(browser.cookies[LOGIN_COOKIE]))
    assert token is not None
    principal = Principal(token.name, token.role, token.token_hash)
    good = csrf_token(browser.app.state.csrf_key, principal)  # type: ignore[attr-defined]
    accepted = browser.post(
        "/api/v1/signals", json={"name": "flash_sale"}, headers={CSRF_HEADER: good}
    )
    assert accepted.status_code == 200 and accepted.json() == []


def test_a_form_post_carries_the_csrf_token_as_a_field(engine: Engine) -> None:
    app = create_app(engine)
    form_router = APIRouter()

    @form_router.post("/note")
    def note(principal: Operator, text: str = Form()) -> dict[str, str]:
        return {"by": principal.name, "text": text}

    app.include_router(form_router)
    browser = TestClient(app)
    _log_in(browser, engine)
    assert browser.post("/note", data={"text": "hi"}).status_code == 403
    token = engine.store.find_token(hash_token(browser.cookies[LOGIN_COOKIE]))
    assert token is not None
    field = csrf_token(app.state.csrf_key, Principal(token.name, token.role, token.token_hash))
    answer = browser.post("/note", data={"text": "hi", CSRF_FIELD: field})
    assert answer.status_code == 200 and answer.json() == {"by": "ann", "text": "hi"}


def test_logout_needs_csrf_and_forgets_the_cookie(browser: TestClient, engine: Engine) -> None:
    _log_in(browser, engine)
    assert browser.post("/logout", follow_redirects=False).status_code == 403
    token = engine.store.find_token(hash_token(browser.cookies[LOGIN_COOKIE]))
    assert token is not None
    field = csrf_token(
        browser.app.state.csrf_key,  # type: ignore[attr-defined]
        Principal(token.name, token.role, token.token_hash),
    )
    answer = browser.post("/logout", data={CSRF_FIELD: field}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert browser.get("/api/v1/processes").status_code == 401


def test_a_viewer_logged_in_cannot_act_even_with_csrf(browser: TestClient, engine: Engine) -> None:
    _log_in(browser, engine, Role.VIEWER)
    token = engine.store.find_token(hash_token(browser.cookies[LOGIN_COOKIE]))
    assert token is not None
    good = csrf_token(
        browser.app.state.csrf_key,  # type: ignore[attr-defined]
        Principal(token.name, token.role, token.token_hash),
    )
    answer = browser.post(
        "/api/v1/signals", json={"name": "flash_sale"}, headers={CSRF_HEADER: good}
    )
    assert answer.status_code == 403 and "viewer" in answer.json()["detail"]


def test_only_the_hash_of_a_token_is_stored(engine: Engine) -> None:
    secret = create_token(engine.store, "cy", Role.VIEWER, datetime.now(UTC))
    stored = engine.store.find_token(hash_token(secret))
    assert stored is not None and stored.name == "cy" and stored.role is Role.VIEWER
    assert secret not in repr(stored) and stored.token_hash != secret
    assert create_token(engine.store, "dee", Role.VIEWER, datetime.now(UTC)) != secret
