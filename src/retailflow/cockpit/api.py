"""The REST API under ``/api/v1``: everything the cockpit shows and does, for any language.

Reads need a viewer's token, changes an operator's (``auth``); changes go through
``actions`` so history records who made them. Answers are JSON models (``schemas``), errors
JSON with a ``detail`` message and a 4xx status (``app``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from retailflow.cockpit.auth import Viewer
from retailflow.engine import Engine

router = APIRouter()


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


@router.get("/processes")
def processes(request: Request, _: Viewer) -> list[dict[str, object]]:
    """Deployed process definitions, by process id and version."""
    return [
        {"id": d.id, "process_id": d.process_id, "version": d.version, "name": d.name}
        for d in _engine(request).definitions()
    ]
