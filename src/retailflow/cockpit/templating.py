"""The Jinja2 templates of the cockpit's pages, rendered with what every page needs.

Templates ship in the wheel beside this module (``templates/``); autoescaping is on, so a
variable's value can never become markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

if TYPE_CHECKING:
    from retailflow.cockpit.auth import Principal

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
"""The cockpit's template set (pages add filters and globals to ``TEMPLATES.env``)."""


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    principal: Principal | None = None,
    status_code: int = 200,
) -> Response:
    """Render template ``name``; with a ``principal``, the page also gets it as ``principal``
    and the CSRF token its forms must carry as ``csrf_token`` (with ``csrf_field``, its
    field name)."""
    from retailflow.cockpit.auth import CSRF_FIELD, csrf_token

    extra: dict[str, Any] = {"principal": principal, "csrf_field": CSRF_FIELD}
    if principal is not None:
        extra["csrf_token"] = csrf_token(request.app.state.csrf_key, principal)
    return TEMPLATES.TemplateResponse(request, name, {**context, **extra}, status_code=status_code)
