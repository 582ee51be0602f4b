"""The PostgreSQL extensions Kartoteka's schema needs, checked before migrating.

An external PostgreSQL (a distribution's package, a managed service) may lack pgvector, or give the
configured user no right to create an extension. Alembic would then stop with a SQLAlchemy traceback
in the middle of a migration; :func:`check_extensions` says first, in one message, which extension is
missing and how to get it. It changes nothing: each ``CREATE EXTENSION`` it tries is rolled back (the
migrations create them for real).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

REQUIRED_EXTENSIONS: tuple[str, ...] = ("vector", "pg_trgm")

_HOW_TO_INSTALL = {
    "vector": "install pgvector on the database server (Debian/Ubuntu: apt-get install postgresql-{major}-pgvector; "
    "Docker: the pgvector/pgvector:pg{major} image; a managed service: enable its pgvector extension)",
    "pg_trgm": "install PostgreSQL's contrib modules on the database server (part of Debian's postgresql-{major}; "
    "elsewhere the postgresql{major}-contrib package)",
}


class DatabaseExtensionError(Exception):
    """A required extension is not installed on the server, or cannot be created by the configured user."""


async def check_extensions(url: str, required: Sequence[str] = REQUIRED_EXTENSIONS) -> None:
    """Raise :class:`DatabaseExtensionError` naming every extension of ``required`` that is missing or
    cannot be created in the database of ``url``, with what to do about it."""
    where = _where(url)
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            major = int(str((await conn.execute(text("SHOW server_version_num"))).scalar_one())) // 10000
            rows = await conn.execute(
                text("SELECT name, installed_version FROM pg_available_extensions WHERE name = ANY(:names)"),
                {"names": list(required)},
            )
            installed = {row.name: row.installed_version is not None for row in rows}
            problems = [
                f"the extension {name!r} is not available: "
                + _HOW_TO_INSTALL.get(name, "install it on the database server").format(major=major)
                for name in required
                if name not in installed
            ]
            for name in required:
                if installed.get(name) is not False:
                    continue  # installed already, or reported as unavailable above
                savepoint = await conn.begin_nested()  # inside the transaction the first query began
                try:
                    await conn.execute(text(f'CREATE EXTENSION IF NOT EXISTS "{name}"'))
                except DBAPIError as exc:
                    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
                    problems.append(
                        f"the extension {name!r} cannot be created by this user ({reason}): have a superuser "
                        f'run CREATE EXTENSION "{name}"; in the database, or grant the right to create it'
                    )
                finally:
                    await savepoint.rollback()
    finally:
        await engine.dispose()
    if problems:
        listed = "\n  ".join(problems)
        raise DatabaseExtensionError(f"PostgreSQL at {where} cannot hold Kartoteka's schema:\n  {listed}")


def _where(url: str) -> str:
    """host:port/database, never the password."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"
