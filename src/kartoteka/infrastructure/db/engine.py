"""The async engine, configured from settings."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from kartoteka.infrastructure.config.settings import DatabaseSettings


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    return create_async_engine(
        settings.url,
        pool_size=settings.pool_size,
        pool_pre_ping=True,
        connect_args={"timeout": settings.connect_timeout_s},
    )
