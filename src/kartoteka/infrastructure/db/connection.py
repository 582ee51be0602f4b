"""Connections for reads outside a unit of work: a database that cannot be reached is a 503, not a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kartoteka.application.shared.database import DatabaseUnavailableError


def connection_lost(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database went away (an outage), not that a statement was wrong (a bug)."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return isinstance(exc, OSError)  # a reset or timed-out socket (TimeoutError is an OSError)


@asynccontextmanager
async def connected(engine: AsyncEngine, *, begin: bool = False) -> AsyncIterator[AsyncConnection]:
    """A connection (in a transaction with ``begin``); losing or not getting one is DatabaseUnavailableError.

    Errors of the statements themselves are left as they are: they are bugs, not outages.
    """
    try:
        conn = await engine.connect()
    except (OSError, OperationalError, InterfaceError, DBAPIError) as exc:  # TimeoutError is an OSError
        raise DatabaseUnavailableError(f"database unavailable: {type(exc).__name__}") from exc
    try:
        if begin:
            async with conn.begin():
                yield conn
        else:
            yield conn
    except (DBAPIError, OSError) as exc:
        if connection_lost(exc):
            raise DatabaseUnavailableError(f"database connection lost: {type(exc).__name__}") from exc
        raise
    finally:
        await conn.close()
