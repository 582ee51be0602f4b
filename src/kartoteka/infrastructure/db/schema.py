"""Tables, as SQLAlchemy Core metadata: the one description Alembic revisions are checked against.

Domain objects are mapped by hand in the repositories, so the domain stays
free of persistence concerns.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TASK_STATUSES = ("queued", "running", "cancelling", "completed", "failed", "cancelled")

batches = Table(
    "batches",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("label", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

recognition_tasks = Table(
    "recognition_tasks",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("batch_id", UUID(as_uuid=True), ForeignKey("batches.id", ondelete="SET NULL"), nullable=True),
    Column("status", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("image_key", Text, nullable=False),
    Column("filename", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("progress_stage", Text, nullable=False, server_default=""),
    Column("progress_done", Integer, nullable=False, server_default="0"),
    Column("progress_total", Integer, nullable=False, server_default="0"),
    Column("transcript", JSONB, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("version", Integer, nullable=False),
    CheckConstraint(f"status IN {TASK_STATUSES!r}".replace(",)", ")"), name="status"),
    CheckConstraint("attempt >= 1", name="attempt"),
    Index(None, "status"),
    Index(None, "batch_id"),
    Index(None, "created_at", "id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("destination", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("available_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("dead_at", DateTime(timezone=True), nullable=True),
    Index("ix_outbox_pending", "available_at", "id", postgresql_where=text("dead_at IS NULL")),
)

OUTBOX_CHANNEL = "kartoteka_outbox"
