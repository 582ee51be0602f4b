"""SqlUnitOfWork: one transaction per use case, with the outbox written inside it.

On commit, every event raised by the tasks this unit of work touched becomes
outbox rows in the same transaction (cosmicpython's "events collected in the
unit of work"); the relay delivers them only after the commit is durable.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kartoteka.application.ports.unit_of_work import DatabaseUnavailableError, OutboundMessage
from kartoteka.domain.recognition.events import DomainEvent
from kartoteka.infrastructure.db.schema import outbox
from kartoteka.infrastructure.db.tasks import SqlBatchRepository, SqlRevisionRepository, SqlTaskRepository

MessageMapper = Callable[[DomainEvent], list[OutboundMessage]]


class SqlUnitOfWork:
    tasks: SqlTaskRepository
    batches: SqlBatchRepository
    revisions: SqlRevisionRepository

    def __init__(self, engine: AsyncEngine, messages_for: MessageMapper) -> None:
        self._engine = engine
        self._messages_for = messages_for
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        try:
            self._conn = await self._engine.connect()
            await self._conn.begin()
        except (OSError, OperationalError, DBAPIError) as exc:
            raise DatabaseUnavailableError(f"database unavailable: {type(exc).__name__}") from exc
        self.tasks = SqlTaskRepository(self._conn)
        self.batches = SqlBatchRepository(self._conn)
        self.revisions = SqlRevisionRepository(self._conn)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                await self._conn.rollback()
        finally:
            await self._conn.close()
            self._conn = None

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
