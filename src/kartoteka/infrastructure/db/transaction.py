"""What every unit of work does with its connection: open one transaction, always close it.

Recognition, the gallery and identity each have their own unit of work (their own
repositories and outbox rules); opening and closing the transaction, and telling an
unreachable database from a bug, is the same for all of them and lives here once.
"""

from __future__ import annotations

import contextlib
from types import TracebackType

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kartoteka.application.shared.database import DatabaseUnavailableError
from kartoteka.infrastructure.db.connection import connection_lost


class SqlTransaction:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def _begin(self) -> AsyncConnection:
        """Connect and begin; a database that cannot be reached is DatabaseUnavailableError."""
        try:
            self._conn = await self._engine.connect()
            await self._conn.begin()
        except (OSError, OperationalError, DBAPIError) as exc:
            if self._conn is not None:  # connected, but BEGIN failed: do not leak the connection
                await self._conn.close()
                self._conn = None
            raise DatabaseUnavailableError(f"database unavailable: {type(exc).__name__}") from exc
        return self._conn

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Roll back whatever was not committed, and give the connection back.

        A connection lost on the way (a statement, the commit, or this rollback) is the database
        being unavailable, a 503 the client may retry, rather than whatever the driver raised.
        """
        assert self._conn is not None
        lost: BaseException | None = exc if connection_lost(exc) else None
        try:
            if self._conn.in_transaction():
                await self._conn.rollback()
        except (DBAPIError, OSError) as failed:
            if not connection_lost(failed):
                raise
            lost = lost or failed
        finally:
            conn, self._conn = self._conn, None
            with contextlib.suppress(DBAPIError, OSError):  # a dead connection is discarded all the same
                await conn.close()
        if lost is not None:
            raise DatabaseUnavailableError(f"database connection lost: {type(lost).__name__}") from lost


def like_pattern(text: str, *, prefix: bool = False) -> str:
    """A LIKE pattern matching ``text`` literally: as a substring, or (``prefix``) as a folder's contents."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%" if prefix else "%" + escaped + "%"
