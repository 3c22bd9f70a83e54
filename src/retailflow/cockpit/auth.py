"""Who is asking: tokens, the login cookie, CSRF tokens, and the viewer / operator checks.

Nothing the cockpit serves (pages, API, metrics) answers without a token. API clients send
``Authorization: Bearer <token>``; a browser logs in once with its token and then carries it in
an HttpOnly, SameSite=Strict cookie. A request that rides on that cookie and changes something
must also carry the CSRF token of its login (a form field ``csrf_token`` or an
``X-CSRF-Token`` header): a page of another site can make a browser send the cookie, never
read the CSRF token. Bearer requests need none, since no browser adds that header on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from retailflow.cockpit.templating import render
from retailflow.model import ApiToken, RetailflowError, Role
from retailflow.stores import Store

LOGIN_COOKIE = "retailflow_login"
"""The cookie holding a logged-in browser's token."""
CSRF_FIELD = "csrf_token"
"""The form field every unsafe form POST carries its CSRF token in."""
CSRF_HEADER = "X-CSRF-Token"
"""The header a script (htmx) sends the CSRF token in instead of a form field."""

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TOKEN_PREFIX = "rf_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Whoever a request comes from: the token's name (recorded in history as who acted) and
    role. ``via_cookie`` says the browser's login cookie carried the token."""

    name: str
    role: Role
    token_hash: str
    via_cookie: bool = False

    @property
    def can_act(self) -> bool:
        """Operators act (retry, cancel, correlate ...); viewers only read."""
        return self.role is Role.OPERATOR


def hash_token(secret: str) -> str:
    """What the store keeps of a token: its SHA-256. The secret is 256 random bits, so a
    plain hash is as good as a slow one: there is nothing to guess from a dictionary."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(store: Store, name: str, role: Role, now: datetime) -> str:
    """Store a new token named ``name`` with ``role`` and return its secret, which is shown
    this once: only the hash is kept."""
    if not name.strip() or len(name) > 255:
        raise RetailflowError(f"a token's name is 1 to 255 characters, got {name!r}")
    secret = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    store.save_token(ApiToken(name, role, hash_token(secret), now))
    return secret


def csrf_token(key: bytes, principal: Principal) -> str:
    """The CSRF token of one login: an HMAC of the token's hash under the app's key, so it
    needs no storage, differs per token, and changes when the app restarts."""
    return hmac.new(key, principal.token_hash.encode(), hashlib.sha256).hexdigest()


async def _principal(request: Request) -> Principal:
    """The principal of a request, from its Bearer header or its login cookie; 401 without
    either, and 403 for a cookie-carried change without its CSRF token."""
    store: Store = request.app.state.engine.store
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    via_cookie = False
    if not header:
        secret = request.cookies.get(LOGIN_COOKIE, "")
        via_cookie = True
    elif scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorized("send 'Authorization: Bearer <token>'")
    if not secret:
        raise _unauthorized("a token is needed: send 'Authorization: Bearer <token>' or log in")
    token = store.find_token(hash_token(secret.strip()))
    if token is None:
        raise _unauthorized(
            "unknown token; `retailflow token create NAME --role viewer|operator` makes one"
        )
    principal = Principal(token.name, token.role, token.token_hash, via_cookie)
    if via_cookie and request.method not in _SAFE_METHODS:
        await _check_csrf(request, principal)
    return principal


async def _check_csrf(request: Request, principal: Principal) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        # Starlette keeps the parsed form, so the route's own Form() parameters read it again.
        field = (await request.form()).get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    expected = csrf_token(request.app.state.csrf_key, principal)
    if sent is None or not hmac.compare_digest(sent, expected):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "missing or wrong CSRF token: reload the page and submit its form again",
        )


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"}
    )


def viewer(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    """Dependency: anyone with a token (viewers and operators) may read."""
    return principal


def operator(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    """Dependency: only operators act; a viewer gets 403."""
    if not principal.can_act:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"'{principal.name}' is a viewer: this needs a token with role operator",
        )
    return principal


Viewer = Annotated[Principal, Depends(viewer)]
"""A route parameter that requires any token and gives its principal."""
Operator = Annotated[Principal, Depends(operator)]
"""A route parameter that requires an operator's token and gives its principal."""


router = APIRouter(include_in_schema=False)
"""``/login`` and ``/logout`` for browsers."""


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    """The login page: one field for the token."""
    return render(request, "login.html", {"next": _local(next), "error": None})


@router.post("/login")
def login(
    request: Request,
    token: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the token and set the login cookie (HttpOnly: scripts never see it;
    SameSite=Strict: no other site's page sends it; Secure over HTTPS)."""
    store: Store = request.app.state.engine.store
    if store.find_token(hash_token(token.strip())) is None:
        return render(
            request,
            "login.html",
            {"next": _local(next), "error": "Unknown token."},
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
    response = RedirectResponse(_local(next), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        LOGIN_COOKIE,
        token.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def logout(_: Viewer) -> Response:
    """Forget the login cookie (the form carries its CSRF token like every other)."""
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(LOGIN_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def login_redirect(request: Request) -> RedirectResponse:
    """Where a browser without a login goes: the login page, then back here."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=status.HTTP_303_SEE_OTHER)


def _local(target: str) -> str:
    """Only a path of this site may follow a login (never ``//evil.example``)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
