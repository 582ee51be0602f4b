"""Gallery: images from watched directories, uploads and card scans; vectors per embedding model.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gallery_images",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("directory", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("root", sa.Text(), nullable=True),
        sa.Column("root_path", sa.Text(), nullable=True),
        sa.Column("object_key", sa.Text(), nullable=True),
        sa.Column("task_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("media_type", sa.Text(), server_default="", nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("thumbnail_key", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("source IN ('directory', 'upload', 'card')", name="ck_gallery_images_source"),
        sa.CheckConstraint("(root IS NULL) = (root_path IS NULL)", name="ck_gallery_images_root_location"),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["recognition_tasks.id"],
            name="fk_gallery_images_task_id_recognition_tasks",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_gallery_images"),
    )
    op.create_index("ix_gallery_images_path", "gallery_images", ["path"], unique=True)
    op.create_index("ix_gallery_images_root_root_path", "gallery_images", ["root", "root_path"], unique=True)
    op.create_index("ix_gallery_images_directory_name", "gallery_images", ["directory", "name"])
    op.create_index("ix_gallery_images_modified_at_id", "gallery_images", ["modified_at", "id"])
    op.create_index("ix_gallery_images_created_at_id", "gallery_images", ["created_at", "id"])
    op.create_index("ix_gallery_images_content_hash", "gallery_images", ["content_hash"])
    op.create_index("ix_gallery_images_task_id", "gallery_images", ["task_id"])
    op.create_table(
        "gallery_directories",
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("path", name="pk_gallery_directories"),
    )
    op.create_table(
        "embedding_models",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("supports_text", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('building', 'ready', 'retired')", name="ck_embedding_models_state"),
        sa.PrimaryKeyConstraint("key", "version", name="pk_embedding_models"),
    )
    op.create_table(
        "image_vectors",
        sa.Column("image_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("model_key", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("embedding", Vector(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("state IN ('pending', 'embedded', 'failed')", name="ck_image_vectors_state"),
        sa.ForeignKeyConstraint(
            ["image_id"], ["gallery_images.id"], name="fk_image_vectors_image_id_gallery_images", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("image_id", "model_key", "model_version", name="pk_image_vectors"),
    )
    op.create_index(
        "ix_image_vectors_model_key_model_version_state", "image_vectors", ["model_key", "model_version", "state"]
    )


def downgrade() -> None:
    op.drop_index("ix_image_vectors_model_key_model_version_state", table_name="image_vectors")
    op.drop_table("image_vectors")  # the per-model HNSW indexes go with it
    op.drop_table("embedding_models")
    op.drop_table("gallery_directories")
    for index in (
        "ix_gallery_images_task_id",
        "ix_gallery_images_content_hash",
        "ix_gallery_images_created_at_id",
        "ix_gallery_images_modified_at_id",
        "ix_gallery_images_directory_name",
        "ix_gallery_images_root_root_path",
        "ix_gallery_images_path",
    ):
        op.drop_index(index, table_name="gallery_images")
    op.drop_table("gallery_images")
