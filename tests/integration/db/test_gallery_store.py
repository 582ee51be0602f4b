"""The gallery in PostgreSQL: images, folders, per-model vectors, and cosine search on HNSW or exactly."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.gallery.ports.embedding import EmbeddingModelId
from kartoteka.application.gallery.ports.store import ImageFilter, ModelState, Ordering, PageRequest, SimilarityQuery
from kartoteka.domain.gallery.image import GalleryImage, ImageConflictError, ImageSource, gallery_path, split_path
from kartoteka.infrastructure.db.gallery.models import SqlModelRegistry
from kartoteka.infrastructure.db.gallery.reader import PgVectorIndex, SqlGalleryReader
from kartoteka.infrastructure.db.gallery.unit_of_work import SqlGalleryUnitOfWork
from kartoteka.infrastructure.db.schema import embedding_models, gallery_directories, gallery_images

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MODEL = EmbeddingModelId("tiny", "v1")
OTHER = EmbeddingModelId("tiny", "v2")


def image(path: str, minutes: int = 0) -> GalleryImage:
    directory, name = split_path(path)
    return GalleryImage(
        id=uuid4(),
        source=ImageSource.DIRECTORY,
        path=path,
        name=name,
        directory=directory,
        size=10,
        content_hash=f"h-{path}",
        created_at=T0 + timedelta(minutes=minutes),
        modified_at=T0 + timedelta(minutes=minutes),
        root="r",
        root_path=path,
        mtime_ns=1,
    )


def unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


@pytest.fixture(autouse=True)
async def _empty(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(gallery_images))
        await conn.execute(delete(gallery_directories))
        await conn.execute(delete(embedding_models))


async def add(engine: AsyncEngine, images: list[GalleryImage], vectors: dict[UUID, list[float]] | None = None) -> None:
    async with SqlGalleryUnitOfWork(engine) as uow:
        for item in images:
            await uow.images.add(item)
        for image_id, vector in (vectors or {}).items():
            await uow.vectors.save(image_id, MODEL, vector)
        await uow.commit()


async def test_a_path_is_never_taken_twice(engine: AsyncEngine) -> None:
    await add(engine, [image("a.jpg")])
    with pytest.raises(ImageConflictError):
        await add(engine, [image("a.jpg")])


async def test_listing_filters_count_what_they_match_and_sort_with_a_tie_breaker(engine: AsyncEngine) -> None:
    await add(engine, [image("a.jpg", 1), image("b.jpg", 2), image("sub/c.jpg", 3), image("sub/deep/d.JPG", 4)])
    reader = SqlGalleryReader(engine)
    top = await reader.listing(ImageFilter(directory="."), Ordering.NAME, False, PageRequest(1, 1))
    assert top.total == 2
    assert [h.image.name for h in top.hits] == ["a.jpg"]
    everything = await reader.listing(ImageFilter(), Ordering.MODIFIED, True, PageRequest(1, 10))
    assert [h.image.name for h in everything.hits] == ["d.JPG", "c.jpg", "b.jpg", "a.jpg"]
    named = await reader.listing(ImageFilter(name_contains="D.j"), Ordering.NAME, False, PageRequest(1, 10))
    assert [h.image.name for h in named.hits] == ["d.JPG"]
    dated = await reader.listing(
        ImageFilter(created_min=T0 + timedelta(minutes=2), created_max=T0 + timedelta(minutes=3)),
        Ordering.CREATED,
        False,
        PageRequest(1, 10),
    )
    assert dated.total == 2
    wildcard = await reader.listing(ImageFilter(name_contains="%"), Ordering.NAME, False, PageRequest(1, 10))
    assert wildcard.total == 0  # LIKE wildcards in a name filter are literal


async def test_the_tree_holds_every_folder_with_parents_relative_to_the_top(engine: AsyncEngine) -> None:
    await add(engine, [image("a.jpg"), image("sub/deep/d.jpg")])
    async with SqlGalleryUnitOfWork(engine) as uow:
        await uow.images.remember_directories([("empty", T0, T0)])
        await uow.commit()
    tree = await SqlGalleryReader(engine).tree()
    assert (tree.path, tree.parent) == (".", None)
    assert sorted(c.path for c in tree.children) == ["empty", "sub"]
    sub = next(c for c in tree.children if c.path == "sub")
    assert [(c.path, c.parent) for c in sub.children] == [("sub/deep", "sub")]


async def test_search_uses_the_models_hnsw_index_and_agrees_with_exact_search(engine: AsyncEngine) -> None:
    rng = random.Random(7)
    items = [image(gallery_path("." if i % 2 else "odd", f"{i:03}.png"), i) for i in range(300)]
    vectors = {item.id: unit([rng.gauss(0, 1) for _ in range(32)]) for item in items}
    await add(engine, items, vectors)
    async with SqlGalleryUnitOfWork(engine) as uow:  # another version of the model: never mixed in
        await uow.vectors.save(items[0].id, OTHER, unit([1.0] * 32))
        await uow.commit()
    registry = SqlModelRegistry(engine)
    record = await registry.register(MODEL, 32, supports_text=False)
    assert record.state is ModelState.BUILDING
    await registry.register(OTHER, 32, supports_text=False)
    query = vectors[items[10].id]
    ann = PgVectorIndex(engine, ef_search=200)
    exact = PgVectorIndex(engine, exact=True)
    request = SimilarityQuery(query, MODEL, ImageFilter(), top_k=25, page=PageRequest(1, 10))
    first = await ann.search(request)
    assert first.hits[0].image.id == items[10].id
    assert first.hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert first.total == 25
    truth = await exact.search(request)
    assert [h.image.id for h in first.hits] == [h.image.id for h in truth.hits]
    pages = [await ann.search(SimilarityQuery(query, MODEL, ImageFilter(), 25, PageRequest(p, 10))) for p in (1, 2, 3)]
    assert [len(p.hits) for p in pages] == [10, 10, 5]
    seen = [h.image.id for p in pages for h in p.hits]
    assert len(set(seen)) == 25
    scores = [h.score for p in pages for h in p.hits]
    assert scores == sorted(scores, reverse=True)

    filtered = await ann.search(SimilarityQuery(query, MODEL, ImageFilter(directory="odd"), 25, PageRequest(1, 50)))
    assert filtered.total == 25  # iterative scan keeps going past filtered-out rows
    assert all(h.image.directory == "odd" for h in filtered.hits)
    strict = await ann.search(SimilarityQuery(query, MODEL, ImageFilter(), 25, PageRequest(1, 50), min_score=0.99))
    assert [h.image.id for h in strict.hits] == [items[10].id]
    assert strict.total == 1

    async with engine.connect() as conn:
        await conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(
            r[0]
            for r in await conn.execute(
                text(
                    "EXPLAIN SELECT image_id FROM image_vectors WHERE model_key = 'tiny' AND model_version = 'v1' "
                    f"ORDER BY embedding::vector(32) <=> '{query}'::vector(32) LIMIT 5"
                )
            )
        )
    assert "ix_image_vectors_hnsw_" in plan


async def test_a_ready_model_retires_the_one_before(engine: AsyncEngine) -> None:
    registry = SqlModelRegistry(engine)
    await registry.register(MODEL, 8, supports_text=False)
    await registry.register(OTHER, 8, supports_text=True)
    assert await registry.searchable() is None  # nothing complete yet: no search in a half-built space
    await registry.mark_ready(MODEL)
    assert (await registry.searchable()).model == MODEL  # type: ignore[union-attr]
    await registry.mark_ready(OTHER)
    assert (await registry.searchable()).model == OTHER  # type: ignore[union-attr]
    assert (await registry.get(MODEL)).state is ModelState.RETIRED  # type: ignore[union-attr]
