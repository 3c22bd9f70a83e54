"""Claims scan a partial index of jobs with retries left, so incidents never slow them down.

Building the index locks the jobs table against writes for as long as it takes; the table
holds only live jobs, so that is a moment, but upgrade before starting a busy fleet.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_CLAIMABLE = sa.text("retries_left > 0")


def upgrade() -> None:
    op.create_index(
        "ix_jobs_claimable",
        "jobs",
        ["due_at", "id"],
        sqlite_where=_CLAIMABLE,
        postgresql_where=_CLAIMABLE,
    )
    op.drop_index("ix_jobs_due", table_name="jobs")


def downgrade() -> None:
    op.create_index("ix_jobs_due", "jobs", ["due_at", "id"])
    op.drop_index("ix_jobs_claimable", table_name="jobs")
