"""The schema as retailflow 0.1 created it with ``metadata.create_all``, before migrations.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "buffered_messages",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("correlation_key", sa.String(length=255), nullable=True),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_buffered_messages_expiry", "buffered_messages", ["expires_at"])
    op.create_index(
        "ix_buffered_messages_lookup",
        "buffered_messages",
        ["name", "correlation_key", "created_at"],
    )

    op.create_table(
        "definitions",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("process_id", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=255), nullable=False),
        sa.Column("resource_name", sa.Text(), nullable=False),
        sa.Column("resource_hashes", sa.JSON(), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ux_definitions_process_version", "definitions", ["process_id", "version"], unique=True
    )

    op.create_table(
        "history",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("instance_id", sa.String(length=255), nullable=False),
        sa.Column("definition_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("element_id", sa.String(length=255), nullable=True),
        sa.Column("element_type", sa.String(length=255), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.String(length=255), nullable=True),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_history_definition", "history", ["definition_id", "seq"])
    op.create_index("ix_history_instance", "history", ["instance_id", "seq"])

    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("instance_id", sa.String(length=255), nullable=False),
        sa.Column("job_id", sa.String(length=255), nullable=False),
        sa.Column("element_id", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_instance", "incidents", ["instance_id"])
    op.create_index("ix_incidents_job", "incidents", ["job_id"])
    op.create_index("ix_incidents_open", "incidents", ["resolved_at", "created_at"])

    op.create_table(
        "instances",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("definition_id", sa.String(length=255), nullable=False),
        sa.Column("process_id", sa.String(length=255), nullable=False),
        sa.Column("business_key", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parent_id", sa.String(length=255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_instances_business_key", "instances", ["business_key"])
    op.create_index("ix_instances_process", "instances", ["process_id", "started_at"])
    op.create_index("ix_instances_started", "instances", ["started_at", "id"])
    op.create_index("ix_instances_status", "instances", ["status", "started_at"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("instance_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("element_id", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retries_left", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("lock_owner", sa.String(length=255), nullable=True),
        sa.Column("lock_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_jobs_due", "jobs", ["due_at", "id"])
    op.create_index("ix_jobs_instance", "jobs", ["instance_id"])

    op.create_table(
        "resources",
        sa.Column("content_hash", sa.String(length=255), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("content_hash"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("instance_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("element_id", sa.String(length=255), nullable=False),
        sa.Column("correlation_key", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_subscriptions_instance", "subscriptions", ["instance_id"])
    op.create_index("ix_subscriptions_lookup", "subscriptions", ["kind", "name", "correlation_key"])

    op.create_table(
        "user_task_groups",
        sa.Column("group_name", sa.String(length=255), nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("group_name", "task_id"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_user_task_groups_task", "user_task_groups", ["task_id"])

    op.create_table(
        "user_tasks",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("instance_id", sa.String(length=255), nullable=False),
        sa.Column("element_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assignee", sa.String(length=255), nullable=True),
        sa.Column("candidate_groups", sa.JSON(), nullable=False),
        sa.Column("candidate_users", sa.JSON(), nullable=False),
        sa.Column("form_key", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_user_tasks_assignee", "user_tasks", ["assignee"])
    op.create_index("ix_user_tasks_created", "user_tasks", ["created_at", "id"])
    op.create_index("ix_user_tasks_instance", "user_tasks", ["instance_id"])


def downgrade() -> None:
    op.drop_table("user_tasks")
    op.drop_table("user_task_groups")
    op.drop_table("subscriptions")
    op.drop_table("resources")
    op.drop_table("jobs")
    op.drop_table("instances")
    op.drop_table("incidents")
    op.drop_table("history")
    op.drop_table("definitions")
    op.drop_table("buffered_messages")
