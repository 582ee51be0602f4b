"""A new model (or new weights) re-indexes the gallery in the background; searches switch only when it is done.

The store, the registry and pgvector are real; the encoder is a small in-memory implementation of the
port, so the two vector spaces are easy to tell apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.gallery.indexing import IndexImages, PrepareModel
from kartoteka.application.gallery.ports.embedding import (
    Embedded,
    EmbeddingModelId,
    EmbeddingOutcome,
    ImageKind,
    NotEmbedded,
    TextSearchUnsupportedError,
)
from kartoteka.application.gallery.ports.files import Thumbnail
from kartoteka.application.gallery.ports.store import ModelState
from kartoteka.domain.gallery.image import GalleryImage, ImageSource
from kartoteka.infrastructure.db.gallery.models import SqlModelRegistry
from kartoteka.infrastructure.db.gallery.unit_of_work import SqlGalleryUnitOfWork
from kartoteka.infrastructure.db.schema import embedding_models, gallery_images, outbox
from kartoteka.infrastructure.db.schema import image_vectors as v
from tests.fakes.shared import MemoryStorage

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class HashEncoder:
    """Vectors from the bytes' hash, salted by the model version: two versions, two spaces."""

    def __init__(self, version: str, dimension: int = 8) -> None:
        self.model = EmbeddingModelId("fake", version)
        self.dimension = dimension
        self.batch_size = 4
        self.supports_text = False

    async def embed_images(self, images: Sequence[bytes], kind: ImageKind = ImageKind.PHOTO) -> list[EmbeddingOutcome]:
        out: list[EmbeddingOutcome] = []
        for data in images:
            if data.startswith(b"BAD"):
                out.append(NotEmbedded("not an image: cannot identify image file"))
                continue
            digest = hashlib.sha256(self.model.version.encode() + data).digest()
            raw = [b - 127.5 for b in digest[: self.dimension]]
            norm = sum(x * x for x in raw) ** 0.5
            out.append(Embedded([x / norm for x in raw]))
        return out

    async def embed_text(self, text: str) -> list[float]:
        raise TextSearchUnsupportedError


class Files:
    async def read(self, image: GalleryImage) -> bytes:
        return image.name.encode()


class Thumbs:
    async def make(self, data: bytes) -> Thumbnail:
        return Thumbnail(b"jpeg", "image/jpeg", 1, 1)


async def add_images(engine: AsyncEngine, names: list[str]) -> None:
    async with SqlGalleryUnitOfWork(engine) as uow:
        for name in names:
            await uow.images.add(
                GalleryImage(uuid4(), ImageSource.UPLOAD, name, name, ".", 1, name, T0, T0, object_key=f"k/{name}")
            )
        await uow.commit()


async def test_a_new_model_builds_in_the_background_and_takes_over_when_complete(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table in (gallery_images, embedding_models, outbox):
            await conn.execute(delete(table))
    await add_images(engine, [f"img{i}.png" for i in range(6)] + ["BAD.png"])
    registry = SqlModelRegistry(engine)

    def uow() -> SqlGalleryUnitOfWork:
        return SqlGalleryUnitOfWork(engine)

    async def pending(encoder: HashEncoder) -> list[UUID]:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(v.c.image_id).where(v.c.model_version == encoder.model.version, v.c.state == "pending")
            )
            return [r[0] for r in rows]

    async def index_all(encoder: HashEncoder, batches: int | None = None) -> None:
        """Run the jobs PrepareModel queued (three images each), all of them or the first ``batches``."""
        indexer = IndexImages(uow, encoder, Files(), Thumbs(), MemoryStorage(), registry)
        done = 0
        while (waiting := await pending(encoder)) and (batches is None or done < batches):
            await indexer(waiting[:3])
            done += 1

    old, new = HashEncoder("v1"), HashEncoder("v2")
    assert await PrepareModel(uow, old, registry, batch_size=4)() == 7  # every image queued for v1
    await index_all(old)
    assert (await registry.searchable()).model == old.model  # type: ignore[union-attr]
    progress = await registry.progress(old.model)
    assert (progress.embedded, progress.failed, progress.pending) == (6, 1, 0)  # the bad file failed, alone

    assert await PrepareModel(uow, new, registry, batch_size=4)() == 7  # new weights: a new space to fill
    assert (await registry.get(new.model)).state is ModelState.BUILDING  # type: ignore[union-attr]
    await index_all(new, batches=1)  # part of the way
    assert (await registry.searchable()).model == old.model  # type: ignore[union-attr]  # never a half-built space
    await index_all(new)
    assert (await registry.searchable()).model == new.model  # type: ignore[union-attr]
    assert (await registry.get(old.model)).state is ModelState.RETIRED  # type: ignore[union-attr]
