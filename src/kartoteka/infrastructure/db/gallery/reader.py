"""SqlGalleryReader and PgVectorIndex: listing, the folder tree, and similarity search.

Totals are counted with the same filters as the page, so a client can page through
exactly what it filtered. Similarity search keeps the nearest ``top_k`` within the filters
and ``min_score``, then pages through them, so page 2 exists when top_k allows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pgvector.sqlalchemy import Vector
from sqlalchemy import ColumnElement, Text, and_, bindparam, cast, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.gallery.ports.embedding import EmbeddingModelId
from kartoteka.application.gallery.ports.store import (
    DirectoryNode,
    DuplicatePage,
    ImageFilter,
    ImageHit,
    ImagePage,
    Ordering,
    PageRequest,
    SimilarityQuery,
)
from kartoteka.domain.gallery.image import TOP, GalleryImage, ImageNotFoundError, parent_directories
from kartoteka.infrastructure.db.connection import connected
from kartoteka.infrastructure.db.gallery.rows import image_from_row, parse_vector, vector_text
from kartoteka.infrastructure.db.schema import gallery_directories, gallery_images, image_vectors
from kartoteka.infrastructure.db.transaction import like_pattern

g = gallery_images
_ORDER = {Ordering.CREATED: g.c.created_at, Ordering.MODIFIED: g.c.modified_at, Ordering.NAME: g.c.name}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def conditions(where: ImageFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if where.directory is not None:
        found.append(g.c.directory == where.directory)
    if where.name_contains:
        found.append(g.c.name.ilike(like_pattern(where.name_contains), escape="\\"))
    if where.created_min is not None:
        found.append(g.c.created_at >= where.created_min)
    if where.created_max is not None:
        found.append(g.c.created_at <= where.created_max)
    if where.modified_min is not None:
        found.append(g.c.modified_at >= where.modified_min)
    if where.modified_max is not None:
        found.append(g.c.modified_at <= where.modified_max)
    return found


class SqlGalleryReader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def listing(self, where: ImageFilter, order: Ordering, descending: bool, page: PageRequest) -> ImagePage:
        found = and_(True, *conditions(where))
        column = _ORDER[order]
        ordering = [column.desc(), g.c.id.desc()] if descending else [column.asc(), g.c.id.asc()]
        async with connected(self._engine) as conn:
            total = await conn.scalar(select(func.count()).select_from(g).where(found))
            rows = await conn.execute(
                select(g).where(found).order_by(*ordering).offset(page.offset).limit(page.items_per_page)
            )
            hits = [ImageHit(image_from_row(r)) for r in rows]
        return ImagePage(hits=hits, total=int(total or 0))

    async def get(self, image_id: UUID) -> GalleryImage:
        async with connected(self._engine) as conn:
            row = (await conn.execute(select(g).where(g.c.id == image_id))).first()
        if row is None:
            raise ImageNotFoundError(image_id)
        return image_from_row(row)

    async def vector_of(self, image_id: UUID, model: EmbeddingModelId) -> list[float] | None:
        v = image_vectors
        async with connected(self._engine) as conn:
            value = await conn.scalar(
                select(text("embedding::text"))
                .select_from(v)
                .where(
                    v.c.image_id == image_id,
                    v.c.model_key == model.key,
                    v.c.model_version == model.version,
                    v.c.state == "embedded",
                )
            )
        return None if value is None else parse_vector(value)

    async def pending_count(self, model: EmbeddingModelId) -> int:
        v = image_vectors
        async with connected(self._engine) as conn:
            count = await conn.scalar(
                select(func.count())
                .select_from(v)
                .where(v.c.model_key == model.key, v.c.model_version == model.version, v.c.state == "pending")
            )
        return int(count or 0)

    async def tree(self) -> DirectoryNode:
        """Folders known from the disk (with their times) and every folder that holds an image."""
        async with connected(self._engine) as conn:
            known = {r.path: (r.created_at, r.modified_at) for r in await conn.execute(select(gallery_directories))}
            used = await conn.execute(
                select(g.c.directory, func.min(g.c.created_at), func.max(g.c.modified_at)).group_by(g.c.directory)
            )
            for directory, created, modified in used:
                for folder in parent_directories(directory):
                    known.setdefault(folder, (created, modified))
        top = known.pop(TOP, None)
        nodes: dict[str, DirectoryNode] = {
            TOP: DirectoryNode(TOP, None, *(top or (_EPOCH, _EPOCH))),
        }
        for path in sorted(known):
            for folder in parent_directories(path):
                if folder not in nodes:
                    parent = folder.rsplit("/", 1)[0] if "/" in folder else TOP
                    created, modified = known.get(folder, known[path])
                    node = DirectoryNode(folder, parent, created, modified)
                    nodes[folder] = node
                    nodes[parent].children.append(node)
        if top is None and known:
            nodes[TOP] = DirectoryNode(
                TOP,
                None,
                min(c for c, _ in known.values()),
                max(m for _, m in known.values()),
                nodes[TOP].children,
            )
        return nodes[TOP]


NEIGHBOURS = 50  # near twins looked for per image: a group is at most this many plus one


class PgVectorIndex:
    """Cosine search on the model's partial HNSW index, or exactly (``exact=True``, for comparison)."""

    def __init__(self, engine: AsyncEngine, ef_search: int = 100, exact: bool = False) -> None:
        self._engine = engine
        self._ef_search = ef_search
        self._exact = exact

    async def search(self, query: SimilarityQuery) -> ImagePage:
        dimension = len(query.vector)
        model = query.model
        v = image_vectors
        space = Vector(dimension)
        distance = cast(v.c.embedding, space).cosine_distance(
            cast(cast(bindparam("q", vector_text(query.vector)), Text), space)
        )
        nearest = (
            select(v.c.image_id, distance.label("distance"))
            .join(g, g.c.id == v.c.image_id)
            .where(
                # Inlined, not bound: only literals let the planner use the model's partial index.
                v.c.model_key == literal(model.key, literal_execute=True),
                v.c.model_version == literal(model.version, literal_execute=True),
                v.c.state == "embedded",
                *conditions(query.where),
            )
            .order_by(distance)
            .limit(query.top_k)
            .cte("nearest")
        )
        kept = select(nearest.c.image_id, nearest.c.distance)
        if query.min_score is not None:
            kept = kept.where(1 - nearest.c.distance >= query.min_score)
        hits = kept.cte("kept")
        page = (
            select(g, (1 - hits.c.distance).label("score"))
            .join(hits, hits.c.image_id == g.c.id)
            .order_by(hits.c.distance, g.c.id)
            .offset(query.page.offset)
            .limit(query.page.items_per_page)
        )
        async with connected(self._engine, begin=True) as conn:
            await self._tune(conn)
            rows = list(await conn.execute(page))
            total = int(await conn.scalar(select(func.count()).select_from(hits)) or 0)
        return ImagePage([ImageHit(image_from_row(r), float(r.score)) for r in rows], total, model)

    async def near_duplicates(
        self, model: EmbeddingModelId, threshold: float, limit: int, after: UUID | None, scan: int
    ) -> DuplicatePage:
        """One query for the whole slice: each of the next ``scan`` images probes the model's HNSW index
        for its nearest ``NEIGHBOURS`` (a LATERAL join), instead of two round trips per image.

        An image starts a group only when none of its near twins comes before it (by id): otherwise it
        belongs to the group that twin started. That keeps pages independent of each other (no state
        between calls) and each group reported once, on the page of its first image.
        """
        v = image_vectors

        def in_model(t: Any) -> list[ColumnElement[bool]]:
            # Inlined, not bound: only literals let the planner use the model's partial index.
            return [
                t.c.model_key == literal(model.key, literal_execute=True),
                t.c.model_version == literal(model.version, literal_execute=True),
                t.c.state == "embedded",
            ]

        slice_ = select(v.c.image_id).where(*in_model(v)).order_by(v.c.image_id).limit(scan)
        if after is not None:
            slice_ = slice_.where(v.c.image_id > after)
        async with connected(self._engine, begin=True) as conn:
            await self._tune(conn)
            ids = [row[0] for row in await conn.execute(slice_)]
            if not ids:
                return DuplicatePage([], None)
            dimension = await conn.scalar(
                select(func.vector_dims(v.c.embedding)).where(*in_model(v), v.c.image_id == ids[0])
            )
            if dimension is None:  # the image was re-queued since: nothing to compare with now
                return DuplicatePage([], None)
            space = Vector(int(dimension))
            a, b = v.alias("a"), v.alias("b")
            distance = cast(b.c.embedding, space).cosine_distance(cast(a.c.embedding, space))
            twins = (
                select(b.c.image_id.label("twin"), distance.label("distance"))
                .where(*in_model(b), b.c.image_id != a.c.image_id)
                .order_by(distance)
                .limit(NEIGHBOURS)
                .lateral("twins")
            )
            pairs = (
                select(a.c.image_id, twins.c.twin)
                .select_from(a.join(twins, literal(True)))
                .where(*in_model(a), a.c.image_id.in_(ids), 1 - twins.c.distance >= threshold)
                .order_by(a.c.image_id, twins.c.distance, twins.c.twin)
            )
            near: dict[UUID, list[UUID]] = {}
            for image_id, twin in await conn.execute(pairs):
                near.setdefault(image_id, []).append(twin)
        groups: list[list[UUID]] = []
        for position, image_id in enumerate(ids):
            if len(groups) >= limit:
                return DuplicatePage(groups, ids[position - 1])
            twins_of = near.get(image_id, [])
            if twins_of and all(twin > image_id for twin in twins_of):
                groups.append([image_id, *twins_of])
        return DuplicatePage(groups, ids[-1] if len(ids) == scan else None)

    async def _tune(self, conn: Any) -> None:
        if self._exact:
            await conn.execute(text("SET LOCAL enable_indexscan = off"))
        else:
            await conn.execute(text(f"SET LOCAL hnsw.ef_search = {int(self._ef_search)}"))
            await conn.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
