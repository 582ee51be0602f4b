"""Who submitted each card and who uploaded each gallery image.

Rows from before this revision have no name (NULL): nobody was recorded then,
and inventing one would be wrong.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("recognition_tasks", sa.Column("submitted_by", sa.Text(), nullable=True))
    op.add_column("gallery_images", sa.Column("uploaded_by", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("gallery_images", "uploaded_by")
    op.drop_column("recognition_tasks", "submitted_by")
