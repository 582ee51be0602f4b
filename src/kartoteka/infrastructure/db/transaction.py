"""What every unit of work does with its connection: open one transaction, always close it.

Recognition, the gallery and identity each have their own unit of work (their own
repositories and outbox rules); opening and closing the transaction, and telling an
unreachable database from a bug, is the same for all of them and lives here once.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kartoteka.application.shared.database import DatabaseUnavailableError


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
        """Roll back whatever was not committed, and give the connection back."""
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                await self._conn.rollback()
        finally:
            await self._conn.close()
            self._conn = None


def like_pattern(text: str, *, prefix: bool = False) -> str:
    """A LIKE pattern matching ``text`` literally: as a substring, or (``prefix``) as a folder's contents."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%" if prefix else "%" + escaped + "%"
