"""Alembic revisions build exactly the schema the code describes, and can be undone."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from kartoteka.infrastructure.db.migrate import downgrade, upgrade
from kartoteka.infrastructure.db.schema import metadata


def schema_differences(url: str) -> list[object]:
    def compare(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async def run() -> list[object]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
                return {r[0] for r in rows}
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_head_matches_the_schema_in_code_and_downgrades_cleanly(fresh_database: str) -> None:
    upgrade(fresh_database)
    assert schema_differences(fresh_database) == []
    assert {"recognition_tasks", "batches", "outbox", "alembic_version"} <= tables(fresh_database)
    downgrade(fresh_database, "base")
    assert tables(fresh_database) == {"alembic_version"}
    upgrade(fresh_database)  # and up again from nothing
    assert schema_differences(fresh_database) == []
