"""UploadImage and DeleteImage: what an editor does to the gallery by hand.

An upload is stored in S3 under a key of its own (a client's filename is a
name, never a path), gets a row at the folder and name it was given, and is
embedded by a worker; the job and the UI's ``FileCreatedEvent`` leave through
the outbox in the same transaction. Nothing is ever silently overwritten.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from kartoteka.application.gallery.indexing import thumbnail_key
from kartoteka.application.gallery.outbox_messages import embed_job, gallery_event
from kartoteka.application.gallery.ports.store import GalleryUnitOfWork
from kartoteka.application.shared.clock import Clock, NewId
from kartoteka.application.shared.images import ImageInspector, ImageTooLargeError, UnreadableImageError
from kartoteka.application.shared.live_messages import FileCreatedEvent, FileDeletedEvent
from kartoteka.application.shared.storage import ObjectStorage, StorageUnavailableError
from kartoteka.application.shared.uploads import RejectionKind, UploadRejectedError
from kartoteka.domain.gallery.image import (
    GalleryImage,
    ImageNotDeletableError,
    ImageSource,
    check_upload_depth,
    gallery_path,
    normalize_directory,
    validate_name,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GalleryLimits:
    max_upload_bytes: int
    max_pixels: int


class UploadImage:
    def __init__(
        self,
        uow: Callable[[], GalleryUnitOfWork],
        storage: ObjectStorage,
        inspector: ImageInspector,
        limits: GalleryLimits,
        clock: Clock,
        new_id: NewId,
    ) -> None:
        self._uow = uow
        self._storage = storage
        self._inspector = inspector
        self._limits = limits
        self._clock = clock
        self._new_id = new_id

    async def __call__(
        self, filename: str, data: bytes, directory: str | None, *, uploaded_by: str | None = None
    ) -> GalleryImage:
        name = validate_name(filename)
        folder = check_upload_depth(normalize_directory(directory))
        if not data:
            raise UploadRejectedError(name, RejectionKind.UNREADABLE, "the file is empty")
        if len(data) > self._limits.max_upload_bytes:
            raise UploadRejectedError(
                name, RejectionKind.TOO_LARGE, f"larger than {self._limits.max_upload_bytes} bytes"
            )
        try:
            info = await self._inspector.inspect(data, self._limits.max_pixels)
        except ImageTooLargeError as exc:
            raise UploadRejectedError(name, RejectionKind.TOO_MANY_PIXELS, str(exc)) from None
        except UnreadableImageError as exc:
            raise UploadRejectedError(name, RejectionKind.UNREADABLE, str(exc)) from None
        if info.width * info.height > self._limits.max_pixels:
            raise UploadRejectedError(
                name,
                RejectionKind.TOO_MANY_PIXELS,
                f"{info.width}×{info.height} is over {self._limits.max_pixels} pixels",
            )
        now = self._clock()
        image = GalleryImage(
            id=self._new_id(),
            source=ImageSource.UPLOAD,
            path=gallery_path(folder, name),
            name=name,
            directory=folder,
            size=len(data),
            content_hash=hashlib.sha256(data).hexdigest(),
            created_at=now,
            modified_at=now,
            media_type=info.content_type,
            width=info.width,
            height=info.height,
            uploaded_by=uploaded_by,
        )
        image.object_key = f"gallery/{image.id}/original{info.extension}"
        await self._storage.put(image.object_key, data, info.content_type)
        try:
            async with self._uow() as uow:
                await uow.images.add(image)
                uow.send(embed_job([image.id]))
                uow.send(gallery_event(FileCreatedEvent(image.path, now)))
                await uow.commit()
        except BaseException:
            try:
                await self._storage.delete(image.object_key)  # nothing of a refused upload stays behind
            except StorageUnavailableError as exc:  # the refusal's own reason is what the client needs
                log.warning("refused upload %s left its object %s behind: %s", image.path, image.object_key, exc)
            raise
        return image


class DeleteImage:
    """Uploads and card scans go with their bytes; files of watched directories are never touched."""

    def __init__(self, uow: Callable[[], GalleryUnitOfWork], storage: ObjectStorage) -> None:
        self._uow = uow
        self._storage = storage

    async def __call__(self, image_id: UUID) -> GalleryImage:
        async with self._uow() as uow:
            image = await uow.images.get(image_id)
            if image.source is ImageSource.DIRECTORY:
                raise ImageNotDeletableError(
                    f"{image.path!r} is a file in a watched directory; delete it there and the index follows"
                )
            await uow.images.delete(image_id)
            uow.send(gallery_event(FileDeletedEvent(image.path)))
            await uow.commit()
        # The worker's key too: an embedding that ended while this ran may have stored a thumbnail that
        # the row read above does not name yet.
        keys = [image.thumbnail_key, thumbnail_key(image.id)]
        if image.source is ImageSource.UPLOAD:  # a card's scan belongs to its recognition task
            keys.append(image.object_key)
        for key in dict.fromkeys(filter(None, keys)):
            try:
                await self._storage.delete(key)
            except StorageUnavailableError as exc:  # the image is gone either way; its bytes are orphans now
                log.warning("deleted image %s left its object %s behind: %s", image.id, key, exc)
        return image
