"""SqlModelRegistry: the vector spaces of the gallery and which one searches use.

Each model gets a partial HNSW index over the rows of its own space, created
when the model is first registered; the expression casts the untyped vector
column to the model's dimension, so spaces of any dimension share one table.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.gallery.ports.embedding import EmbeddingModelId
from kartoteka.application.gallery.ports.store import IndexProgress, ModelRecord, ModelState
from kartoteka.infrastructure.db.connection import connected
from kartoteka.infrastructure.db.gallery.rows import index_name, literal
from kartoteka.infrastructure.db.schema import embedding_models as m
from kartoteka.infrastructure.db.schema import gallery_images, image_vectors


def _record(row: object) -> ModelRecord:
    return ModelRecord(
        model=EmbeddingModelId(row.key, row.version),  # type: ignore[attr-defined]
        dimension=row.dimension,  # type: ignore[attr-defined]
        state=ModelState(row.state),  # type: ignore[attr-defined]
        supports_text=row.supports_text,  # type: ignore[attr-defined]
        created_at=row.created_at,  # type: ignore[attr-defined]
        ready_at=row.ready_at,  # type: ignore[attr-defined]
    )


class SqlModelRegistry:
    def __init__(self, engine: AsyncEngine, ef_construction: int = 64, hnsw_m: int = 16) -> None:
        self._engine = engine
        self._ef_construction = ef_construction
        self._m = hnsw_m

    async def register(self, model: EmbeddingModelId, dimension: int, supports_text: bool) -> ModelRecord:
        async with connected(self._engine, begin=True) as conn:
            await conn.execute(
                pg_insert(m)
                .values(
                    key=model.key,
                    version=model.version,
                    dimension=dimension,
                    state=ModelState.BUILDING.value,
                    supports_text=supports_text,
                )
                .on_conflict_do_nothing()
            )
            # Serialise index creation between workers starting together.
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": index_name(model)})
            await conn.execute(
                text(
                    f"CREATE INDEX IF NOT EXISTS {index_name(model)} ON image_vectors "
                    f"USING hnsw ((embedding::vector({int(dimension)})) vector_cosine_ops) "
                    f"WITH (m = {int(self._m)}, ef_construction = {int(self._ef_construction)}) "
                    f"WHERE model_key = {literal(model.key)} AND model_version = {literal(model.version)}"
                )
            )
            row = (await conn.execute(select(m).where(m.c.key == model.key, m.c.version == model.version))).one()
        return _record(row)

    async def get(self, model: EmbeddingModelId) -> ModelRecord | None:
        async with connected(self._engine) as conn:
            row = (await conn.execute(select(m).where(m.c.key == model.key, m.c.version == model.version))).first()
        return None if row is None else _record(row)

    async def mark_ready(self, model: EmbeddingModelId) -> None:
        async with connected(self._engine, begin=True) as conn:
            await conn.execute(
                update(m)
                .where(m.c.key == model.key, m.c.version == model.version, m.c.state != ModelState.READY.value)
                .values(state=ModelState.READY.value, ready_at=func.now())
            )
            await conn.execute(
                update(m)
                .where(m.c.state == ModelState.READY.value, ~and_(m.c.key == model.key, m.c.version == model.version))
                .values(state=ModelState.RETIRED.value)
            )

    async def searchable(self) -> ModelRecord | None:
        async with connected(self._engine) as conn:
            row = (
                await conn.execute(
                    select(m).where(m.c.state == ModelState.READY.value).order_by(m.c.ready_at.desc()).limit(1)
                )
            ).first()
        return None if row is None else _record(row)

    async def building(self) -> list[ModelRecord]:
        async with connected(self._engine) as conn:
            rows = await conn.execute(select(m).where(m.c.state == ModelState.BUILDING.value).order_by(m.c.created_at))
            return [_record(r) for r in rows]

    async def progress(self, model: EmbeddingModelId) -> IndexProgress:
        v = image_vectors
        async with connected(self._engine) as conn:
            counts: dict[str, int] = dict(
                (
                    await conn.execute(
                        select(v.c.state, func.count())
                        .where(v.c.model_key == model.key, v.c.model_version == model.version)
                        .group_by(v.c.state)
                    )
                ).all()
            )
            images = await conn.scalar(select(func.count()).select_from(gallery_images))
        embedded, failed = counts.get("embedded", 0), counts.get("failed", 0)
        return IndexProgress(model, embedded, failed, max(0, int(images or 0) - embedded - failed))

    async def images_without_vectors(self, model: EmbeddingModelId, limit: int) -> list[UUID]:
        v = image_vectors
        missing = (
            select(gallery_images.c.id)
            .where(
                ~select(v.c.image_id)
                .where(
                    v.c.image_id == gallery_images.c.id, v.c.model_key == model.key, v.c.model_version == model.version
                )
                .exists()
            )
            .limit(limit)
        )
        async with connected(self._engine) as conn:
            return [r[0] for r in await conn.execute(missing)]
