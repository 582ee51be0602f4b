"""The system's time and ids, for the ``Clock`` and ``NewId`` the use cases take."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4


def utc_now() -> datetime:
    return datetime.now(UTC)


class SystemClock:
    """Wall-clock time, always timezone-aware UTC."""

    def __call__(self) -> datetime:
        return utc_now()


class RandomIds:
    """Random (version 4) UUIDs: unique without coordination between processes."""

    def __call__(self) -> UUID:
        return uuid4()
