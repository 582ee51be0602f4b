"""Tables, as SQLAlchemy Core metadata: the one description Alembic revisions are checked against.

Domain objects are mapped by hand in the repositories, so the domain stays
free of persistence concerns.
"""

from __future__ import annotations

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
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
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID

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

# Submissions made with an Idempotency-Key: a retried request finds what the first one made.
submission_keys = Table(
    "submission_keys",
    metadata,
    Column("scope", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("batch_id", UUID(as_uuid=True), nullable=True),
    Column("task_ids", JSONB, nullable=False),
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
    # The number of the transcript's latest revision (the transcript column holds its text); null before one.
    Column("transcript_revision", Integer, nullable=True),
    # Order within the batch as submitted: pages of a document in page order.
    Column("batch_position", Integer, nullable=True),
    # The PDF or multi-page TIFF a card was cut from, and which of its pages it is.
    Column("source_filename", Text, nullable=True),
    Column("source_page", Integer, nullable=True),
    Column("source_page_count", Integer, nullable=True),
    Column("submitted_by", Text, nullable=True),
    # Retries and leases (domain.recognition.retries): runs of this attempt so far, when a queued retry is
    # due, and until when the worker running it holds it (renewed by its heartbeat, outside versioning).
    Column("runs", Integer, nullable=False, server_default="0"),
    Column("retry_at", DateTime(timezone=True), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    CheckConstraint(f"status IN {TASK_STATUSES!r}".replace(",)", ")"), name="status"),
    CheckConstraint("attempt >= 1", name="attempt"),
    CheckConstraint("runs >= 0", name="runs"),
    Index(None, "status"),
    # What the sweeper looks for: tasks nobody has settled yet.
    Index(
        "ix_recognition_tasks_unsettled",
        "status",
        "updated_at",
        postgresql_where=text("status IN ('queued', 'running', 'cancelling')"),
    ),
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

# ------------------------------------------------------------------------- transcripts and search

REVISION_KINDS = ("machine", "correction")

transcript_revisions = Table(
    "transcript_revisions",
    metadata,
    Column("task_id", UUID(as_uuid=True), ForeignKey("recognition_tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("author", Text, nullable=True),
    Column("attempt", Integer, nullable=False),
    Column("operations", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("transcript", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(f"kind IN {REVISION_KINDS!r}", name="kind"),
    CheckConstraint("number >= 0", name="number"),
)

# The latest revision of each card in search forms (see domain.recognition.search): ``body`` has one
# line of space-separated words per transcript line. Narrow on purpose: ranking reads every matching
# row, so the lines as written (for highlights) are read from the task's transcript for a page only.
SEARCH_CONFIG = "simple"
transcript_search = Table(
    "transcript_search",
    metadata,
    Column("task_id", UUID(as_uuid=True), ForeignKey("recognition_tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("document", TSVECTOR, Computed(f"to_tsvector('{SEARCH_CONFIG}'::regconfig, body)", persisted=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_transcript_search_document", "document", postgresql_using="gin"),
)

# Every word form ever indexed, with an ASCII key for pg_trgm (see transcript_index.trigram_key), to find
# near misses of a query word. Words are never removed: a stale one only yields a candidate that
# matches no card.
search_words = Table(
    "search_words",
    metadata,
    Column("word", Text, primary_key=True),
    Column("trigrams", Text, nullable=False),
    Index(
        "ix_search_words_trigrams",
        "trigrams",
        postgresql_using="gin",
        postgresql_ops={"trigrams": "gin_trgm_ops"},
    ),
)

# ------------------------------------------------------------------------------------------- gallery

IMAGE_SOURCES = ("directory", "upload", "card")
VECTOR_STATES = ("pending", "embedded", "failed")
MODEL_STATES = ("building", "ready", "retired")

gallery_images = Table(
    "gallery_images",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("source", Text, nullable=False),
    # Where the image shows in the gallery: a POSIX path, unique, with its folder ("." at the top).
    Column("path", Text, nullable=False),
    Column("directory", Text, nullable=False),
    Column("name", Text, nullable=False),
    # Where its bytes are: a watched root and a path inside it, or an object in S3.
    Column("root", Text, nullable=True),
    Column("root_path", Text, nullable=True),
    Column("object_key", Text, nullable=True),
    Column("task_id", UUID(as_uuid=True), ForeignKey("recognition_tasks.id", ondelete="SET NULL"), nullable=True),
    Column("media_type", Text, nullable=False, server_default=""),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("content_hash", Text, nullable=False),
    Column("thumbnail_key", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("uploaded_by", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("modified_at", DateTime(timezone=True), nullable=False),
    Column("indexed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"source IN {IMAGE_SOURCES!r}", name="source"),
    CheckConstraint("(root IS NULL) = (root_path IS NULL)", name="root_location"),
    Index(None, "path", unique=True),
    Index(None, "root", "root_path", unique=True),
    Index(None, "directory", "name"),
    Index(None, "modified_at", "id"),
    Index(None, "created_at", "id"),
    Index(None, "content_hash"),
    Index(None, "task_id"),
)

gallery_directories = Table(
    "gallery_directories",
    metadata,
    Column("path", Text, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("modified_at", DateTime(timezone=True), nullable=False),
)

embedding_models = Table(
    "embedding_models",
    metadata,
    Column("key", Text, primary_key=True),
    Column("version", Text, primary_key=True),
    Column("dimension", Integer, nullable=False),
    Column("state", Text, nullable=False),
    Column("supports_text", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("ready_at", DateTime(timezone=True), nullable=True),
    CheckConstraint(f"state IN {MODEL_STATES!r}", name="state"),
)

image_vectors = Table(
    "image_vectors",
    metadata,
    Column("image_id", UUID(as_uuid=True), ForeignKey("gallery_images.id", ondelete="CASCADE"), primary_key=True),
    Column("model_key", Text, primary_key=True),
    Column("model_version", Text, primary_key=True),
    Column("state", Text, nullable=False),
    # No fixed dimension: every model keeps its own; a partial HNSW index per model casts to it.
    Column("embedding", Vector(), nullable=True),
    Column("error", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"state IN {VECTOR_STATES!r}", name="state"),
    Index(None, "model_key", "model_version", "state"),
)

# ------------------------------------------------------------------------------------------ identity

ROLES = ("user", "editor", "admin")
ATTEMPT_KINDS = ("otp_start", "otp_verify")

users = Table(
    "users",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    # Normalised (trimmed, NFC, lower case) by the domain, so a unique index is a unique mailbox.
    Column("email", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(f"role IN {ROLES!r}", name="role"),
    Index(None, "email", unique=True),
    Index(None, "role"),
)

# Tokens and codes are stored only as hashes (see domain.identity.digests); look-ups go by the hash.
otp_challenges = Table(
    "otp_challenges",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("token_hash", Text, nullable=False),
    # Null for an address with no account: the challenge is a decoy that no code opens.
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("email", Text, nullable=False),
    Column("code_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("consumed_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("attempts >= 0", name="attempts"),
    Index(None, "token_hash", unique=True),
    Index(None, "expires_at"),
    Index(None, "user_id"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("token_hash", Text, nullable=False),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index(None, "token_hash", unique=True),
    Index(None, "user_id"),
    Index(None, "expires_at"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False),
    Column("token_hash", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("created_by", UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    CheckConstraint(f"role IN {ROLES!r}", name="role"),
    Index(None, "token_hash", unique=True),
    Index(None, "created_by"),
)

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("email", Text, nullable=True),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("client", Text, nullable=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(f"kind IN {ATTEMPT_KINDS!r}", name="kind"),
    Index(None, "occurred_at"),
    Index(None, "email", "occurred_at"),
    Index(None, "user_id"),
)
