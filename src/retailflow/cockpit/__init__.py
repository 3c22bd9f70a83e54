"""The cockpit: a web app and REST API over an engine's store (``create_app``).

FastAPI and its friends are imported here and only here, so ``import retailflow`` stays light
for applications that never serve the cockpit.
"""

from __future__ import annotations

from retailflow.cockpit.app import create_app

__all__ = ["create_app"]
