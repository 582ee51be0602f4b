"""IndexImages against real PostgreSQL and S3 while the gallery changes under it.

Embedding takes seconds; an editor may delete, and the watcher may move or rewrite, the image in the
meantime. The encoder here is a stand-in that lets each test act at exactly that moment.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from kartoteka.application.gallery.indexing import IndexImages, thumbnail_key
from kartoteka.application.gallery.manage_images import DeleteImage, GalleryLimits, UploadImage
from kartoteka.application.gallery.ports.embedding import (
    Embedded,
    EmbeddingModelId,
    EmbeddingOutcome,
    ImageKind,
    TextSearchUnsupportedError,
)
from kartoteka.application.gallery.ports.store import GalleryUnitOfWork
from kartoteka.domain.gallery.image import GalleryImage
from kartoteka.infrastructure.db.gallery.models import SqlModelRegistry
from kartoteka.infrastructure.db.gallery.unit_of_work import SqlGalleryUnitOfWork
from kartoteka.infrastructure.imaging.gallery_files import GalleryFiles
from kartoteka.infrastructure.imaging.inspector import GALLERY_ACCEPTED, PillowImageInspector
from kartoteka.infrastructure.imaging.thumbnails import PillowThumbnailMaker
from kartoteka.infrastructure.storage.s3 import S3ObjectStorage
from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server
from tests.integration.gallery.conftest import empty_gallery, eventually, gallery_settings

MODEL = EmbeddingModelId("stand-in", "1")
Hook = Callable[[], Awaitable[None]]


class StandInEncoder:
    """Four-dimensional vectors; ``during`` runs while the batch is "being embedded"."""

    def __init__(self) -> None:
        self.during: Hook | None = None

    @property
    def model(self) -> EmbeddingModelId:
        return MODEL

    @property
    def dimension(self) -> int:
        return 4

    @property
    def batch_size(self) -> int:
        return 8

    @property
    def supports_text(self) -> bool:
        return False

    async def embed_images(self, images: Sequence[bytes], kind: ImageKind = ImageKind.PHOTO) -> list[EmbeddingOutcome]:
        if self.during is not None:
            await self.during()
        return [Embedded([1.0, 0.0, 0.0, 0.0]) for _ in images]

    async def embed_text(self, text: str) -> list[float]:
        raise TextSearchUnsupportedError("no text tower")


class HookedStorage(S3ObjectStorage):
    """S3 whose ``put`` runs ``on_put`` first (puts of thumbnails happen while a row is locked)."""

    on_put: Callable[[str], Awaitable[None]] | None = None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        if self.on_put is not None:
            await self.on_put(key)
        await super().put(key, data, content_type)


@dataclass
class Setup:
    engine: AsyncEngine
    storage: HookedStorage
    encoder: StandInEncoder
    index: IndexImages
    delete: DeleteImage
    upload: UploadImage

    def uow(self) -> GalleryUnitOfWork:
        return SqlGalleryUnitOfWork(self.engine)

    async def row(self, image_id: uuid.UUID) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(text("SELECT * FROM gallery_images WHERE id = :i"), {"i": image_id})).first()

    async def vector_state(self, image_id: uuid.UUID) -> str | None:
        async with self.engine.connect() as conn:
            state: str | None = await conn.scalar(
                text("SELECT state FROM image_vectors WHERE image_id = :i"), {"i": image_id}
            )
            return state

    async def sql(self, statement: str, **params: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(statement), params)


def png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
async def setup(migrated_database: str, s3_server: S3Server, redis_server: RedisServer) -> AsyncIterator[Setup]:
    await empty_gallery(migrated_database)
    settings = gallery_settings(migrated_database, s3_server, redis_server)
    engine = create_async_engine(migrated_database)
    storage = HookedStorage(settings.s3)
    await storage.ensure_bucket()
    encoder = StandInEncoder()
    models = SqlModelRegistry(engine)
    await models.register(MODEL, encoder.dimension, encoder.supports_text)

    def uow() -> GalleryUnitOfWork:
        return SqlGalleryUnitOfWork(engine)

    index = IndexImages(uow, encoder, GalleryFiles({}, storage), PillowThumbnailMaker(32), storage, models)
    limits = GalleryLimits(max_upload_bytes=10_000_000, max_pixels=10_000_000)
    upload = UploadImage(
        uow, storage, PillowImageInspector(GALLERY_ACCEPTED), limits, lambda: datetime.now(UTC), uuid.uuid4
    )
    try:
        yield Setup(engine, storage, encoder, index, DeleteImage(uow, storage), upload)
    finally:
        await storage.close()
        await engine.dispose()


async def uploaded(setup: Setup, name: str, seed: int, folder: str = ".") -> GalleryImage:
    return await setup.upload(name, png(seed), folder)


async def test_an_undisturbed_batch_stores_vectors_and_thumbnails(setup: Setup) -> None:
    images = [await uploaded(setup, f"{k}.png", k) for k in range(3)]
    report = await setup.index([i.id for i in images])
    assert (report.embedded, report.failed, report.skipped, report.to_index) == (3, 0, 0, 0)
    for image in images:
        assert await setup.vector_state(image.id) == "embedded"
        assert (await setup.row(image.id)).thumbnail_key == thumbnail_key(image.id)
        assert await setup.storage.exists(thumbnail_key(image.id))


async def test_an_image_deleted_while_embedding_is_skipped_and_leaves_nothing(setup: Setup) -> None:
    doomed = await uploaded(setup, "doomed.png", 1)
    kept = await uploaded(setup, "kept.png", 2)

    async def delete_it() -> None:
        await setup.delete(doomed.id)

    setup.encoder.during = delete_it
    report = await setup.index([doomed.id, kept.id])  # a foreign-key violation here would fail the whole batch
    assert (report.embedded, report.skipped) == (1, 1)
    assert await setup.row(doomed.id) is None
    assert await setup.vector_state(doomed.id) is None
    assert not await setup.storage.exists(thumbnail_key(doomed.id))
    assert await setup.vector_state(kept.id) == "embedded"
    assert await setup.storage.exists(thumbnail_key(kept.id))


async def test_a_delete_arriving_while_the_results_are_written_waits_and_removes_the_thumbnail(setup: Setup) -> None:
    image = await uploaded(setup, "late.png", 3)
    deleting: list[asyncio.Task[GalleryImage]] = []

    async def delete_blocked(key: str) -> None:
        # Inside IndexImages' write transaction, with the row locked: the delete reads the row as it
        # was (no thumbnail yet) and then has to wait for this transaction to end.
        if key != thumbnail_key(image.id) or deleting:
            return
        deleting.append(asyncio.create_task(setup.delete(image.id)))

        async def waiting_on_the_row() -> bool:
            async with setup.engine.connect() as conn:
                waits = await conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query ILIKE 'DELETE FROM gallery_images%'"
                    )
                )
            return bool(waits)

        await eventually(waiting_on_the_row, 30, "the delete to wait for the row")

    setup.storage.on_put = delete_blocked
    report = await setup.index([image.id])
    assert report.embedded == 1
    deleted = await asyncio.wait_for(deleting[0], 30)
    assert deleted.id == image.id
    assert await setup.row(image.id) is None
    assert await setup.vector_state(image.id) is None
    assert not await setup.storage.exists(thumbnail_key(image.id))


async def test_what_changed_while_embedding_is_kept(setup: Setup) -> None:
    image = await uploaded(setup, "old-name.png", 4, "inbox")
    when = datetime(2020, 5, 17, 8, 30, tzinfo=UTC)

    async def move_and_retime() -> None:  # what the watcher does to a file moved meanwhile
        await setup.sql(
            "UPDATE gallery_images SET path = 'archive/new-name.png', directory = 'archive', "
            "name = 'new-name.png', created_at = :t, modified_at = :t WHERE id = :i",
            t=when,
            i=image.id,
        )

    setup.encoder.during = move_and_retime
    report = await setup.index([image.id])
    assert report.embedded == 1
    row = await setup.row(image.id)
    assert (row.path, row.directory, row.name) == ("archive/new-name.png", "archive", "new-name.png")
    assert (row.created_at, row.modified_at) == (when, when)
    assert row.thumbnail_key == thumbnail_key(image.id)
    assert await setup.vector_state(image.id) == "embedded"


async def test_content_rewritten_while_embedding_gets_no_stale_vector(setup: Setup) -> None:
    image = await uploaded(setup, "rewritten.png", 5)

    async def rewrite() -> None:  # the watcher saw new bytes: new hash, vectors cleared, queued again
        await setup.sql(
            "UPDATE gallery_images SET content_hash = 'new', thumbnail_key = NULL WHERE id = :i", i=image.id
        )

    setup.encoder.during = rewrite
    report = await setup.index([image.id])
    assert (report.embedded, report.skipped) == (0, 1)
    assert await setup.vector_state(image.id) is None
    assert (await setup.row(image.id)).thumbnail_key is None
