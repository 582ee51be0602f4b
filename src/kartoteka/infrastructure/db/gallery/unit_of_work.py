"""SqlGalleryUnitOfWork: gallery writes and their outbox messages in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Self
from uuid import UUID

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kartoteka.application.gallery.ports.embedding import EmbeddingModelId
from kartoteka.application.shared.outbox import OutboundMessage
from kartoteka.domain.gallery.image import GalleryImage, ImageConflictError, ImageNotFoundError
from kartoteka.infrastructure.db.gallery.rows import image_from_row, image_to_row, vector_text
from kartoteka.infrastructure.db.schema import gallery_directories, gallery_images, image_vectors, outbox
from kartoteka.infrastructure.db.transaction import SqlTransaction, like_pattern


class SqlImageRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, image: GalleryImage) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(insert(gallery_images).values(**image_to_row(image)))
        except IntegrityError as exc:
            raise ImageConflictError(f"{image.path!r} is already in the gallery") from exc

    async def get(self, image_id: UUID) -> GalleryImage:
        row = (await self._conn.execute(select(gallery_images).where(gallery_images.c.id == image_id))).first()
        if row is None:
            raise ImageNotFoundError(image_id)
        return image_from_row(row)

    async def update(self, image: GalleryImage) -> None:
        values = image_to_row(image)
        del values["id"]
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(update(gallery_images).where(gallery_images.c.id == image.id).values(**values))
        except IntegrityError as exc:
            raise ImageConflictError(f"{image.path!r} is already in the gallery") from exc

    async def record_indexing(self, image: GalleryImage) -> bool:
        g = gallery_images
        recorded = await self._conn.execute(
            update(g)
            .where(g.c.id == image.id, g.c.content_hash == image.content_hash)
            .values(thumbnail_key=image.thumbnail_key, width=image.width, height=image.height, error=image.error)
            .returning(g.c.id)
        )
        return recorded.first() is not None

    async def delete(self, image_id: UUID) -> None:
        await self._conn.execute(delete(gallery_images).where(gallery_images.c.id == image_id))

    async def in_root(self, root: str) -> list[GalleryImage]:
        rows = await self._conn.execute(select(gallery_images).where(gallery_images.c.root == root))
        return [image_from_row(r) for r in rows]

    async def by_root_path(self, root: str, root_path: str) -> GalleryImage | None:
        row = (
            await self._conn.execute(
                select(gallery_images).where(gallery_images.c.root == root, gallery_images.c.root_path == root_path)
            )
        ).first()
        return None if row is None else image_from_row(row)

    async def of_task(self, task_id: UUID) -> GalleryImage | None:
        # A card image has its task's id; the link itself is nulled when the task row goes.
        g = gallery_images
        card = (g.c.task_id == task_id) | ((g.c.id == task_id) & (g.c.source == "card"))
        row = (await self._conn.execute(select(g).where(card))).first()
        return None if row is None else image_from_row(row)

    async def under_root_path(self, root: str, prefix: str) -> list[GalleryImage]:
        pattern = like_pattern(prefix.rstrip("/"), prefix=True)
        rows = await self._conn.execute(
            select(gallery_images).where(
                gallery_images.c.root == root, gallery_images.c.root_path.like(pattern, escape="\\")
            )
        )
        return [image_from_row(r) for r in rows]

    async def remember_directories(self, directories: Sequence[tuple[str, datetime, datetime]]) -> None:
        if not directories:
            return
        statement = pg_insert(gallery_directories).values(
            [{"path": p, "created_at": c, "modified_at": m} for p, c, m in directories]
        )
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=[gallery_directories.c.path],
                set_={"modified_at": statement.excluded.modified_at},
            )
        )

    async def forget_directories(self, prefix: str) -> None:
        pattern = like_pattern(prefix, prefix=True)
        await self._conn.execute(
            delete(gallery_directories).where(
                (gallery_directories.c.path == prefix) | gallery_directories.c.path.like(pattern, escape="\\")
            )
        )


_STALE_PENDING = text(
    """
    UPDATE image_vectors v SET updated_at = now()
    FROM (
        SELECT p.image_id, p.model_key, p.model_version FROM image_vectors p
        JOIN embedding_models m ON m.key = p.model_key AND m.version = p.model_version
        WHERE p.state = 'pending' AND p.updated_at <= :before AND m.state IN ('building', 'ready')
          AND NOT EXISTS (
              SELECT 1 FROM outbox o
              WHERE o.destination = 'embedding.jobs' AND o.dead_at IS NULL
                AND jsonb_exists(o.payload -> 'image_ids', p.image_id::text)
          )
        ORDER BY p.updated_at
        LIMIT :limit
        FOR UPDATE OF p SKIP LOCKED
    ) stale
    WHERE v.image_id = stale.image_id AND v.model_key = stale.model_key AND v.model_version = stale.model_version
    RETURNING v.image_id
    """
)


class SqlVectorStore:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def mark_pending(self, image_ids: Sequence[UUID], model: EmbeddingModelId) -> None:
        if not image_ids:
            return
        statement = pg_insert(image_vectors).values(
            [
                {"image_id": i, "model_key": model.key, "model_version": model.version, "state": "pending"}
                for i in image_ids
            ]
        )
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=[image_vectors.c.image_id, image_vectors.c.model_key, image_vectors.c.model_version],
                set_={"state": "pending", "embedding": None, "error": None, "updated_at": text("now()")},
            )
        )

    async def save(self, image_id: UUID, model: EmbeddingModelId, vector: list[float]) -> None:
        await self._conn.execute(
            text(
                "INSERT INTO image_vectors (image_id, model_key, model_version, state, embedding, updated_at) "
                "VALUES (:id, :key, :version, 'embedded', CAST(CAST(:vector AS text) AS vector), now()) "
                "ON CONFLICT (image_id, model_key, model_version) DO UPDATE SET state = 'embedded', "
                "embedding = EXCLUDED.embedding, error = NULL, updated_at = now()"
            ),
            {"id": image_id, "key": model.key, "version": model.version, "vector": vector_text(vector)},
        )

    async def save_failure(self, image_id: UUID, model: EmbeddingModelId, reason: str) -> None:
        statement = pg_insert(image_vectors).values(
            image_id=image_id, model_key=model.key, model_version=model.version, state="failed", error=reason[:2000]
        )
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=[image_vectors.c.image_id, image_vectors.c.model_key, image_vectors.c.model_version],
                set_={"state": "failed", "embedding": None, "error": reason[:2000], "updated_at": text("now()")},
            )
        )

    async def clear(self, image_id: UUID) -> None:
        await self._conn.execute(delete(image_vectors).where(image_vectors.c.image_id == image_id))

    async def stale_pending(self, before: datetime, limit: int) -> list[UUID]:
        """Images pending since ``before`` for a model in use, with no job waiting in the outbox; their
        rows are touched (so they count as fresh again) and skipped by another sweeper meanwhile."""
        rows = await self._conn.execute(_STALE_PENDING, {"before": before, "limit": limit})
        return list(dict.fromkeys(row.image_id for row in rows))


class SqlGalleryUnitOfWork(SqlTransaction):
    images: SqlImageRepository
    vectors: SqlVectorStore

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._messages: list[OutboundMessage] = []

    async def __aenter__(self) -> Self:
        conn = await self._begin()
        self.images = SqlImageRepository(conn)
        self.vectors = SqlVectorStore(conn)
        self._messages = []
        return self

    def send(self, message: OutboundMessage) -> None:
        self._messages.append(message)

    async def commit(self) -> None:
        assert self._conn is not None
        if self._messages:
            await self._conn.execute(
                insert(outbox),
                [{"destination": m.destination, "key": m.key, "payload": m.payload} for m in self._messages],
            )
            self._messages = []
        await self._conn.commit()
