"""One active watcher per root, across machines: a PostgreSQL session advisory lock.

The lock lives as long as the connection that took it, so a watcher that dies
(even by SIGKILL) releases its roots when PostgreSQL notices the connection is
gone, and a standby watcher takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def root_lock(dsn: str, root: str, retry_s: float = 5.0) -> AsyncIterator[None]:
    """Wait until this process holds the lock for ``root`` (by its absolute path), then hold it."""
    key = f"kartoteka-watch:{root}"
    waiting_logged = False
    while True:
        connection = await asyncpg.connect(dsn)
        try:
            if await connection.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
                break
        except BaseException:
            await connection.close()
            raise
        await connection.close()
        if not waiting_logged:
            log.warning("another watcher holds %s; standing by", root)
            waiting_logged = True
        await asyncio.sleep(retry_s)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await connection.close()
