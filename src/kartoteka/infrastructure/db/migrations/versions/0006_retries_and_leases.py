"""Retries and leases of recognition jobs: runs so far, when a retry is due, the worker's lease.

Existing tasks start with no runs counted, no retry pending and no lease: a
task left ``running`` by an older version therefore has no live lease, and the
sweeper puts it back in the queue, which is what such a stuck task needs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("recognition_tasks", sa.Column("runs", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("recognition_tasks", sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("recognition_tasks", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint("ck_recognition_tasks_runs", "recognition_tasks", "runs >= 0")
    op.create_index(
        "ix_recognition_tasks_unsettled",
        "recognition_tasks",
        ["status", "updated_at"],
        postgresql_where=sa.text("status IN ('queued', 'running', 'cancelling')"),
    )


def downgrade() -> None:
    op.drop_index("ix_recognition_tasks_unsettled", table_name="recognition_tasks")
    op.drop_constraint("ck_recognition_tasks_runs", "recognition_tasks", type_="check")
    op.drop_column("recognition_tasks", "lease_until")
    op.drop_column("recognition_tasks", "retry_at")
    op.drop_column("recognition_tasks", "runs")
