"""Transcript revisions, full-text search over the latest ones, and where a card came from in its upload.

Existing transcripts become revision 0 (the models' reading) and are indexed
for search, so a database upgraded from 0002 finds its old cards too.

pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may
create it. A downgrade leaves it installed, as 0001 leaves pgvector.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BACKFILL_BATCH = 500


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.add_column("recognition_tasks", sa.Column("transcript_revision", sa.Integer(), nullable=True))
    op.add_column("recognition_tasks", sa.Column("batch_position", sa.Integer(), nullable=True))
    op.add_column("recognition_tasks", sa.Column("source_filename", sa.Text(), nullable=True))
    op.add_column("recognition_tasks", sa.Column("source_page", sa.Integer(), nullable=True))
    op.add_column("recognition_tasks", sa.Column("source_page_count", sa.Integer(), nullable=True))
    op.create_table(
        "transcript_revisions",
        sa.Column("task_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("operations", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("transcript", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('machine', 'correction')", name="ck_transcript_revisions_kind"),
        sa.CheckConstraint("number >= 0", name="ck_transcript_revisions_number"),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["recognition_tasks.id"],
            name="fk_transcript_revisions_task_id_recognition_tasks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", "number", name="pk_transcript_revisions"),
    )
    op.create_table(
        "transcript_search",
        sa.Column("task_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "document",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('simple'::regconfig, body)", persisted=True),
            nullable=True,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["recognition_tasks.id"],
            name="fk_transcript_search_task_id_recognition_tasks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", name="pk_transcript_search"),
    )
    op.create_index("ix_transcript_search_document", "transcript_search", ["document"], postgresql_using="gin")
    op.create_table(
        "search_words",
        sa.Column("word", sa.Text(), nullable=False),
        sa.Column("trigrams", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("word", name="pk_search_words"),
    )
    op.create_index(
        "ix_search_words_trigrams",
        "search_words",
        ["trigrams"],
        postgresql_using="gin",
        postgresql_ops={"trigrams": "gin_trgm_ops"},
    )
    _backfill()


def _backfill() -> None:
    """Revision 0 and a search document for every transcript recognised before revisions existed."""
    from kartoteka.domain.recognition.transcript import Transcript
    from kartoteka.infrastructure.db.recognition.transcript_index import lexicon_rows, search_body

    op.execute(
        """
        INSERT INTO transcript_revisions (task_id, number, kind, author, attempt, transcript, created_at)
        SELECT id, 0, 'machine', NULL, attempt, transcript, COALESCE(finished_at, updated_at)
        FROM recognition_tasks WHERE transcript IS NOT NULL
        """
    )
    op.execute("UPDATE recognition_tasks SET transcript_revision = 0 WHERE transcript IS NOT NULL")
    bind = op.get_bind()
    insert_document = sa.text(
        "INSERT INTO transcript_search (task_id, revision, body, updated_at) VALUES (:task_id, 0, :body, :updated_at)"
    )
    insert_words = sa.text("INSERT INTO search_words (word, trigrams) VALUES (:word, :trigrams) ON CONFLICT DO NOTHING")
    after: Any = None
    while True:
        query = "SELECT id, transcript, COALESCE(finished_at, updated_at) AS at FROM recognition_tasks "
        query += "WHERE transcript IS NOT NULL" + (" AND id > :after" if after is not None else "")
        params: dict[str, Any] = {"n": BACKFILL_BATCH} | ({"after": after} if after is not None else {})
        rows = bind.execute(sa.text(query + " ORDER BY id LIMIT :n"), params).all()
        if not rows:
            return
        documents, words = [], set()
        for row in rows:
            transcript = Transcript.from_dict(row.transcript)
            body = search_body(transcript)
            words.update(body.split())
            documents.append({"task_id": row.id, "body": body, "updated_at": row.at})
        bind.execute(insert_document, documents)
        if words:
            bind.execute(insert_words, lexicon_rows(words))
        after = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_search_words_trigrams", table_name="search_words")
    op.drop_table("search_words")
    op.drop_index("ix_transcript_search_document", table_name="transcript_search")
    op.drop_table("transcript_search")
    op.drop_table("transcript_revisions")
    for column in ("source_page_count", "source_page", "source_filename", "batch_position", "transcript_revision"):
        op.drop_column("recognition_tasks", column)
