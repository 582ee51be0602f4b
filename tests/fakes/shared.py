"""Fakes of the shared ports: object storage, the clock, the image inspector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kartoteka.application.shared.images import ImageInfo, UnreadableImageError, UnsupportedImageError
from kartoteka.application.shared.storage import (
    ListedObject,
    ObjectNotFoundError,
    StorageUnavailableError,
    StoredObject,
)

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class MemoryStorage:
    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}
        self.fail_after: int | None = None  # puts allowed before the store "goes down"
        self.modified: dict[str, datetime] = {}  # when a test says an object was written; else now

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        if self.fail_after is not None:
            if self.fail_after == 0:
                raise StorageUnavailableError("store down")
            self.fail_after -= 1
        self.objects[key] = StoredObject(key, data, content_type)

    async def get(self, key: str) -> StoredObject:
        if key not in self.objects:
            raise ObjectNotFoundError(key)
        return self.objects[key]

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    async def exists(self, key: str) -> bool:
        return key in self.objects

    async def presigned_get_url(self, key: str, expires: timedelta) -> str:
        return f"memory://{key}"

    async def listed(self, prefix: str) -> list[ListedObject]:
        return [
            ListedObject(key, self.modified.get(key, datetime.now(UTC)))
            for key in sorted(self.objects)
            if key.startswith(prefix)
        ]

    async def ping(self) -> None:
        return None


class MagicBytesInspector:
    """Accepts b"PNG:<w>x<h>" payloads; everything else is unreadable; b"GIF" is unsupported."""

    async def inspect(self, data: bytes, max_pixels: int) -> ImageInfo:
        if data.startswith(b"GIF"):
            raise UnsupportedImageError("GIF images are not accepted")
        if not data.startswith(b"PNG:"):
            raise UnreadableImageError("not a recognised image")
        w, h = (int(v) for v in data[4:].split(b"x"))
        return ImageInfo("PNG", "image/png", ".png", w, h)
