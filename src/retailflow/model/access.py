"""Who may use the cockpit and its REST API: named tokens, each with a role.

Only a hash of a token is ever stored: whoever reads the database cannot act with what it finds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """What a token's holder may do: viewers read, operators also act (retry, cancel,
    correlate, complete tasks, deploy, start)."""

    VIEWER = "viewer"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A stored token: its holder's ``name`` (recorded as who did each action), ``role`` and
    the SHA-256 hex digest of the secret; the secret itself is shown once and never kept."""

    name: str
    role: Role
    token_hash: str
    created_at: datetime
