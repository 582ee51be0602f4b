"""IndexImages over the real gallery store: a bad file fails alone, thumbnails only for what embedded.

The encoder is a stub (what it returns is the point here, not a model); files come from an in-memory
object store; thumbnails are made by the real Pillow maker while the encoder works.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from PIL import Image
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.gallery.indexing import IndexImages
from kartoteka.application.gallery.outbox_messages import EMBED_JOBS, embed_job
from kartoteka.application.gallery.ports.embedding import (
    Embedded,
    EmbeddingModelId,
    EmbeddingOutcome,
    ImageKind,
    NotEmbedded,
)
from kartoteka.application.gallery.sweep import ResendLostEmbeddings
from kartoteka.application.shared.storage import StorageUnavailableError, StoredObject
from kartoteka.domain.gallery.image import GalleryImage, ImageSource
from kartoteka.infrastructure.db.gallery.models import SqlModelRegistry
from kartoteka.infrastructure.db.gallery.unit_of_work import SqlGalleryUnitOfWork
from kartoteka.infrastructure.db.schema import (
    embedding_models,
    gallery_directories,
    gallery_images,
    image_vectors,
    outbox,
)
from kartoteka.infrastructure.imaging.gallery_files import GalleryFiles
from kartoteka.infrastructure.imaging.thumbnails import PillowThumbnailMaker
from tests.fakes.shared import MemoryStorage

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MODEL = EmbeddingModelId("stub", "v1")


class StubEncoder:
    """Embeds PNGs and anything marked ``embeddable:``; everything else is a NotEmbedded."""

    model = MODEL
    dimension = 4
    batch_size = 32
    supports_text = False

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken

    async def embed_images(self, images: Sequence[bytes], kind: ImageKind = ImageKind.PHOTO) -> list[EmbeddingOutcome]:
        if self.broken:
            raise RuntimeError("the model is down")
        return [
            Embedded([0.5, 0.5, 0.5, 0.5])
            if data.startswith((b"\x89PNG", b"embeddable:"))
            else NotEmbedded("not a recognised image format")
            for data in images
        ]

    async def embed_text(self, text: str) -> list[float]:
        raise NotImplementedError


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
async def _empty(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(gallery_images))
        await conn.execute(delete(gallery_directories))
        await conn.execute(delete(embedding_models))
        await conn.execute(delete(outbox))


async def stored(engine: AsyncEngine, storage: MemoryStorage, items: dict[str, bytes | None]) -> list[GalleryImage]:
    """Upload-like images; ``None`` content means the row exists but its object does not."""
    images = []
    async with SqlGalleryUnitOfWork(engine) as uow:
        for name, data in items.items():
            image = GalleryImage(
                id=uuid4(),
                source=ImageSource.UPLOAD,
                path=name,
                name=name,
                directory=".",
                size=len(data or b""),
                content_hash=f"h-{name}",
                created_at=T0,
                modified_at=T0,
                object_key=f"gallery/{name}",
            )
            if data is not None:
                await storage.put(f"gallery/{name}", data, "application/octet-stream")
            await uow.images.add(image)
            images.append(image)
        await uow.commit()
    return images


def index_images(engine: AsyncEngine, storage: MemoryStorage, encoder: StubEncoder) -> IndexImages:
    return IndexImages(
        lambda: SqlGalleryUnitOfWork(engine),
        encoder,
        GalleryFiles({}, storage),
        PillowThumbnailMaker(size=64),
        storage,
        SqlModelRegistry(engine),
    )


async def test_each_image_of_a_batch_gets_its_own_outcome_and_only_embedded_ones_a_thumbnail(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    storage = MemoryStorage()
    await SqlModelRegistry(engine).register(MODEL, 4, supports_text=False)
    good, junk, gone, odd = await stored(
        engine,
        storage,
        {"good.png": png(300, 120), "junk.png": b"not an image", "gone.png": None, "odd.png": b"embeddable:x"},
    )
    with caplog.at_level(logging.WARNING, logger="kartoteka.application.gallery.indexing"):
        report = await index_images(engine, storage, StubEncoder())([good.id, junk.id, gone.id, odd.id])

    assert (report.embedded, report.failed, report.skipped) == (2, 2, 0)
    async with engine.connect() as conn:
        vectors = {r.image_id: r for r in await conn.execute(select(image_vectors))}
        rows = {r.id: r for r in await conn.execute(select(gallery_images))}
    assert vectors[good.id].state == vectors[odd.id].state == "embedded"
    assert (vectors[junk.id].state, vectors[junk.id].error) == ("failed", "not a recognised image format")
    assert (vectors[gone.id].state, vectors[gone.id].error) == ("failed", "the file is gone")
    # A thumbnail for the image that embedded, none for the failed ones (their drafts are dropped quietly),
    # and for an image that embedded but cannot be drawn, a warning and no thumbnail.
    assert sorted(k for k in storage.objects if k.startswith("thumbnails/")) == [f"thumbnails/{good.id}.jpg"]
    assert (rows[good.id].thumbnail_key, rows[good.id].width, rows[good.id].height) == (
        f"thumbnails/{good.id}.jpg",
        300,
        120,
    )
    assert rows[junk.id].error == "not a recognised image format"
    assert rows[odd.id].thumbnail_key is None
    assert rows[odd.id].error is None
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "odd.png" in warnings[0]


async def test_a_failing_model_fails_the_batch_and_leaves_nothing_behind(engine: AsyncEngine) -> None:
    storage = MemoryStorage()
    await SqlModelRegistry(engine).register(MODEL, 4, supports_text=False)
    images = await stored(engine, storage, {f"{n}.png": png(200, 200) for n in range(6)})
    with pytest.raises(RuntimeError, match="the model is down"):
        await index_images(engine, storage, StubEncoder(broken=True))([i.id for i in images])
    # The thumbnails being drawn in the background were stopped, not left running or failing unseen.
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert not [k for k in storage.objects if k.startswith("thumbnails/")]
    async with engine.connect() as conn:
        assert (await conn.execute(select(image_vectors))).first() is None


class PoisonEncoder(StubEncoder):
    """Breaks the whole model call when one image of the batch is ``poison:``, as a decoder bug would."""

    async def embed_images(self, images: Sequence[bytes], kind: ImageKind = ImageKind.PHOTO) -> list[EmbeddingOutcome]:
        if any(data.startswith(b"poison:") for data in images):
            raise TypeError("decoder crashed")
        return await super().embed_images(images, kind)


async def test_an_image_that_breaks_its_batch_fails_alone_and_the_rest_is_indexed(engine: AsyncEngine) -> None:
    storage = MemoryStorage()
    await SqlModelRegistry(engine).register(MODEL, 4, supports_text=False)
    images = await stored(engine, storage, {"a.png": png(50, 50), "bad.png": b"poison:x", "b.png": png(60, 60)})
    report = await index_images(engine, storage, PoisonEncoder()).isolating([i.id for i in images])
    assert (report.embedded, report.failed) == (2, 1)
    async with engine.connect() as conn:
        vectors = {r.image_id: r for r in await conn.execute(select(image_vectors))}
    assert [vectors[i.id].state for i in images] == ["embedded", "failed", "embedded"]
    assert vectors[images[1].id].error == "TypeError: decoder crashed"


async def test_an_outage_leaves_the_batch_pending_for_the_sweeper(engine: AsyncEngine) -> None:
    class DownStorage(MemoryStorage):
        async def get(self, key: str) -> StoredObject:
            raise StorageUnavailableError("connection refused")

    storage = DownStorage()
    await SqlModelRegistry(engine).register(MODEL, 4, supports_text=False)
    images = await stored(engine, storage, {"a.png": None})
    async with SqlGalleryUnitOfWork(engine) as uow:
        await uow.vectors.mark_pending([images[0].id], MODEL)
        await uow.commit()
    with pytest.raises(StorageUnavailableError):  # the object store is down while the batch reads its files
        await index_images(engine, storage, StubEncoder()).isolating([images[0].id])
    async with engine.connect() as conn:
        assert (await conn.execute(select(image_vectors.c.state))).scalar_one() == "pending"


async def test_images_pending_too_long_get_their_job_sent_again_once(engine: AsyncEngine) -> None:
    storage = MemoryStorage()
    await SqlModelRegistry(engine).register(MODEL, 4, supports_text=False)
    lost = await stored(engine, storage, {f"lost{n}.png": png(20, 20) for n in range(3)})
    [waiting] = await stored(engine, storage, {"waiting.png": png(20, 20)})
    async with SqlGalleryUnitOfWork(engine) as uow:
        await uow.vectors.mark_pending([*(i.id for i in lost), waiting.id], MODEL)
        uow.send(embed_job([waiting.id]))  # this one's job has not been delivered yet
        await uow.commit()
    async with engine.begin() as conn:
        await conn.execute(delete(outbox).where(outbox.c.destination == EMBED_JOBS, outbox.c.key != str(waiting.id)))
        await conn.execute(update(image_vectors).values(updated_at=T0))
    now = datetime.now(UTC)
    resend = ResendLostEmbeddings(lambda: SqlGalleryUnitOfWork(engine), lambda: now, stuck_s=60, batch_size=2)
    racing = await asyncio.gather(resend(), resend())
    assert sorted(racing) == [0, 3]  # two sweepers: each image is handed out once
    async with engine.connect() as conn:
        jobs = [
            r.payload["image_ids"] for r in await conn.execute(select(outbox).where(outbox.c.destination == EMBED_JOBS))
        ]
    sent = [i for job in jobs for i in job]
    assert sorted(sent) == sorted([*(str(i.id) for i in lost), str(waiting.id)])  # the waiting job, and 3 re-sent
    assert await resend() == 0
