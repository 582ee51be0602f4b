"""Submissions made with an Idempotency-Key, so a retried request creates nothing twice.

One row per (who submitted, key): the request's fingerprint and the batch and tasks it made.
No foreign keys: a task deleted later leaves its id here, and a replay answers with what is left.

Revision ID: 0007
Revises: 0005 (0006, the leases migration, is on another branch: rebase this onto it when both land)
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submission_keys",
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("batch_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("task_ids", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_submission_keys")),
    )


def downgrade() -> None:
    op.drop_table("submission_keys")
