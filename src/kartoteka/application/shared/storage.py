"""Where object bytes live: card scans, uploads, thumbnails, exports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from kartoteka.domain.errors import UNAVAILABLE_MESSAGE, ErrorKind, Refusal


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    data: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class ListedObject:
    key: str
    modified_at: datetime


class ObjectNotFoundError(Refusal):
    """No object under that key (a stored scan or image that has gone)."""

    kind = ErrorKind.NOT_FOUND

    @property
    def message(self) -> str:
        return "the stored image is missing"


class StorageUnavailableError(Refusal):
    """The object store cannot be reached or refused the request; the caller may retry later."""

    kind = ErrorKind.UNAVAILABLE

    @property
    def message(self) -> str:
        return UNAVAILABLE_MESSAGE

    @property
    def detail(self) -> object:
        return str(self)


class ObjectStorage(Protocol):
    """Keys are opaque to callers beyond their prefix; a put under an existing key replaces it."""

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> StoredObject: ...

    async def delete(self, key: str) -> None:
        """Idempotent: deleting a missing key is not an error."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def presigned_get_url(self, key: str, expires: timedelta) -> str: ...

    async def listed(self, prefix: str) -> list[ListedObject]:
        """Every object whose key starts with ``prefix``, in key order."""
        ...

    async def ping(self) -> None:
        """Raise StorageUnavailableError unless the store answers (readiness checks)."""
        ...
