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
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.gallery.indexing import IndexImages
from kartoteka.application.gallery.ports.embedding import (
    Embedded,
    EmbeddingModelId,
    EmbeddingOutcome,
    ImageKind,
    NotEmbedded,
)
from kartoteka.domain.gallery.image import GalleryImage, ImageSource
from kartoteka.infrastructure.db.gallery.models import SqlModelRegistry
from kartoteka.infrastructure.db.gallery.unit_of_work import SqlGalleryUnitOfWork
from kartoteka.infrastructure.db.schema import embedding_models, gallery_directories, gallery_images, image_vectors
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
