"""The cockpit's HTML pages (placeholder: helper cockpit-pages writes them)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
