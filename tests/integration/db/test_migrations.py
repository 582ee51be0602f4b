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


def test_transcripts_recognised_before_0003_become_revision_0_and_searchable(fresh_database: str) -> None:
    import json
    import uuid

    downgrade(fresh_database, "base")
    upgrade(fresh_database, "0002")
    task_id = uuid.uuid4()
    transcript = {
        "width": 10,
        "height": 10,
        "lines": [
            {
                "words": [
                    {
                        "text": "Ба\u0301тюшка",
                        "box": [1, 1, 5, 5],
                        "detection_confidence": 0.9,
                        "recognition_confidence": 0.8,
                    },
                ]
            }
        ],
        "models": [],
    }

    async def run(sql: str, **params: object) -> list[tuple[object, ...]]:
        engine = create_async_engine(fresh_database)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(sql), params)
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    asyncio.run(
        run(
            "INSERT INTO recognition_tasks (id, status, attempt, image_key, filename, content_type, size, width, "
            "height, transcript, created_at, updated_at, finished_at, version) VALUES (:id, 'completed', 2, 'k', "
            "'f.png', 'image/png', 1, 10, 10, CAST(:t AS jsonb), now(), now(), now(), 3)",
            id=task_id,
            t=json.dumps(transcript),
        )
    )
    upgrade(fresh_database)
    assert asyncio.run(run("SELECT number, kind, attempt FROM transcript_revisions")) == [(0, "machine", 2)]
    assert asyncio.run(run("SELECT transcript_revision FROM recognition_tasks")) == [(0,)]
    assert asyncio.run(run("SELECT body, revision FROM transcript_search")) == [("батюшка", 0)]
    found = asyncio.run(run("SELECT task_id FROM transcript_search WHERE document @@ to_tsquery('simple', 'батюшка')"))
    assert found == [(task_id,)]
    assert asyncio.run(run("SELECT word FROM search_words")) == [("батюшка",)]
    downgrade(fresh_database, "base")
    upgrade(fresh_database)
