"""SqlTaskReader: task lists by keyset pagination (created_at, id), newest first.

A keyset cursor stays correct while tasks are added between pages, which an
offset would not; it is opaque to clients (base64 of the last row's key).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.recognition.ports.task_reader import InvalidCursorError, TaskFilter, TaskPage
from kartoteka.domain.recognition.task import RecognitionTask, TaskStatus
from kartoteka.infrastructure.db.connection import connected
from kartoteka.infrastructure.db.recognition.repositories import task_from_row
from kartoteka.infrastructure.db.schema import recognition_tasks as t


def encode_cursor(created_at: datetime, task_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{task_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, ident = raw.partition("|")
        created_at = datetime.fromisoformat(when)
        if created_at.tzinfo is None:
            raise ValueError("naive time")
        return created_at, UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursorError("the cursor is not valid; start again without one") from None


def _conditions(where: TaskFilter, with_status: bool) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if with_status and where.statuses:
        conditions.append(t.c.status.in_([s.value for s in where.statuses]))
    if where.batch_id is not None:
        conditions.append(t.c.batch_id == where.batch_id)
    if where.created_from is not None:
        conditions.append(t.c.created_at >= where.created_from)
    if where.created_to is not None:
        conditions.append(t.c.created_at < where.created_to)
    return conditions


class SqlTaskReader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def page(self, where: TaskFilter, cursor: str | None, limit: int) -> TaskPage:
        conditions = _conditions(where, with_status=True)
        if cursor is not None:
            created_at, task_id = decode_cursor(cursor)
            conditions.append(tuple_(t.c.created_at, t.c.id) < tuple_(created_at, task_id))
        query = select(t).where(and_(True, *conditions)).order_by(t.c.created_at.desc(), t.c.id.desc())
        counts_query = (
            select(t.c.status, func.count())
            .where(and_(True, *_conditions(where, with_status=False)))
            .group_by(t.c.status)
        )
        async with connected(self._engine) as conn:
            rows = list(await conn.execute(query.limit(limit + 1)))
            counts = dict.fromkeys(TaskStatus, 0)
            for status, count in await conn.execute(counts_query):
                counts[TaskStatus(status)] = count
        tasks = tuple(task_from_row(r) for r in rows[:limit])
        next_cursor = encode_cursor(tasks[-1].created_at, tasks[-1].id) if len(rows) > limit else None
        return TaskPage(tasks=tasks, next_cursor=next_cursor, counts=counts)

    async def get_many(self, task_ids: Collection[UUID]) -> dict[UUID, RecognitionTask]:
        if not task_ids:
            return {}
        async with connected(self._engine) as conn:
            rows = await conn.execute(select(t).where(t.c.id.in_(list(task_ids))))
            return {task.id: task for task in map(task_from_row, rows)}
