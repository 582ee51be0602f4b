"""SqlCorrectedCards: cards whose latest revision is a person's, in keyset pages by task id.

Only the *latest* revision counts: a card corrected and then re-read by a newer
model shows the machine's reading, which is not ground truth until a person
confirms it again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.recognition.ports.corrected_cards import CorrectedCard
from kartoteka.domain.recognition.revisions import RevisionKind
from kartoteka.domain.recognition.transcript import Transcript
from kartoteka.infrastructure.db.connection import connected
from kartoteka.infrastructure.db.schema import recognition_tasks as t
from kartoteka.infrastructure.db.schema import transcript_revisions as r

PAGE = 200


class SqlCorrectedCards:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def latest(self) -> AsyncIterator[CorrectedCard]:
        after: UUID | None = None
        while True:
            query = (
                select(t.c.id, t.c.filename, t.c.image_key, r.c.number, r.c.author, r.c.transcript)
                .join(r, and_(r.c.task_id == t.c.id, r.c.number == t.c.transcript_revision))
                .where(r.c.kind == RevisionKind.CORRECTION.value)
                .order_by(t.c.id)
                .limit(PAGE)
            )
            if after is not None:
                query = query.where(t.c.id > after)
            async with connected(self._engine) as conn:
                rows = (await conn.execute(query)).all()
            for row in rows:
                yield CorrectedCard(
                    task_id=row.id,
                    filename=row.filename,
                    image_key=row.image_key,
                    revision=row.number,
                    author=row.author or "",
                    transcript=Transcript.from_dict(row.transcript),
                )
            if len(rows) < PAGE:
                return
            after = rows[-1].id
