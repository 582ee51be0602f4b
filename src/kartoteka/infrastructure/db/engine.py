"""The async engine, configured from settings."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from kartoteka.infrastructure.config.settings import DatabaseSettings


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    return create_async_engine(
        settings.url,
        pool_size=settings.pool_size,
        pool_pre_ping=True,
        connect_args={"timeout": settings.connect_timeout_s},
    )


def listen_dsn(database_url: str) -> str:
    """The plain libpq form of the SQLAlchemy URL, for connections outside the pool (LISTEN, advisory locks)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
