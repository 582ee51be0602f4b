"""SqlUnitOfWork: one transaction per use case, with the outbox written inside it.

On commit, every event raised by the tasks this unit of work touched becomes
outbox rows in the same transaction (cosmicpython's "events collected in the
unit of work"); the relay delivers them only after the commit is durable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.shared.outbox import OutboundMessage
from kartoteka.domain.recognition.events import DomainEvent
from kartoteka.infrastructure.db.recognition.repositories import (
    SqlBatchRepository,
    SqlRevisionRepository,
    SqlSubmissionKeyRepository,
    SqlTaskRepository,
)
from kartoteka.infrastructure.db.schema import outbox
from kartoteka.infrastructure.db.transaction import SqlTransaction

MessageMapper = Callable[[DomainEvent], list[OutboundMessage]]


class SqlUnitOfWork(SqlTransaction):
    tasks: SqlTaskRepository
    batches: SqlBatchRepository
    revisions: SqlRevisionRepository
    submission_keys: SqlSubmissionKeyRepository

    def __init__(self, engine: AsyncEngine, messages_for: MessageMapper) -> None:
        super().__init__(engine)
        self._messages_for = messages_for

    async def __aenter__(self) -> Self:
        conn = await self._begin()
        self.tasks = SqlTaskRepository(conn)
        self.batches = SqlBatchRepository(conn)
        self.revisions = SqlRevisionRepository(conn)
        self.submission_keys = SqlSubmissionKeyRepository(conn)
        return self

    async def commit(self) -> None:
        assert self._conn is not None
        await self.tasks.flush()
        rows = []
        for task in self.tasks.seen:
            for event in task.events:
                rows += [
                    {"destination": m.destination, "key": m.key, "payload": m.payload}
                    for m in self._messages_for(event)
                ]
            task.events.clear()
        if rows:
            await self._conn.execute(insert(outbox), rows)
        await self._conn.commit()

    async def rollback(self) -> None:
        assert self._conn is not None
        await self._conn.rollback()
