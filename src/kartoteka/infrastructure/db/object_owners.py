"""SqlObjectOwners: which stored keys a row names (a card's scan, an image's upload or thumbnail).

Asked by the orphan sweep about a few hundred old keys at a time, once in a long while, so plain
``= ANY`` lookups are enough; an unreachable database is DatabaseUnavailableError and the sweep waits.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.infrastructure.db.connection import connected
from kartoteka.infrastructure.db.schema import gallery_images as g
from kartoteka.infrastructure.db.schema import recognition_tasks as t


class SqlObjectOwners:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def owned(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        wanted = list(keys)
        query = union(
            select(t.c.image_key.label("key")).where(t.c.image_key.in_(wanted)),
            select(g.c.object_key).where(g.c.object_key.in_(wanted)),
            select(g.c.thumbnail_key).where(g.c.thumbnail_key.in_(wanted)),
        )
        async with connected(self._engine) as conn:
            rows = await conn.execute(query)
        return {str(row.key) for row in rows}
