"""SubmitCards: a linguist uploads one or many scans; each becomes a queued recognition task.

All or nothing: every file is checked before any byte is stored, and if
storing or committing fails, the objects already written are removed, so a
refused or failed request leaves neither tasks nor orphaned scans behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from kartoteka.application.ports.images import ImageInfo, ImageInspector
from kartoteka.application.ports.storage import ObjectStorage
from kartoteka.application.ports.unit_of_work import Batch, UnitOfWork
from kartoteka.application.recognition.errors import RejectionKind, UnsupportedImageError, UploadRejectedError
from kartoteka.domain.recognition.errors import UnreadableImageError
from kartoteka.domain.recognition.task import CardImage, RecognitionTask


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_upload_bytes: int
    max_pixels: int
    max_files: int


@dataclass(frozen=True, slots=True)
class Submission:
    batch: Batch | None
    tasks: tuple[RecognitionTask, ...]


def card_key(task_id: UUID, extension: str) -> str:
    """Keyed by the task's own id: two uploads can never collide, whatever their file names."""
    return f"cards/{task_id}/original{extension}"


class SubmitCards:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        storage: ObjectStorage,
        inspector: ImageInspector,
        limits: UploadLimits,
        clock: Callable[[], datetime],
        new_id: Callable[[], UUID],
    ) -> None:
        self._uow = uow
        self._storage = storage
        self._inspector = inspector
        self._limits = limits
        self._clock = clock
        self._new_id = new_id

    async def __call__(self, uploads: Sequence[Upload], batch_label: str | None = None) -> Submission:
        if not uploads:
            raise UploadRejectedError(None, RejectionKind.EMPTY_REQUEST, "no image files in the request")
        if len(uploads) > self._limits.max_files:
            raise UploadRejectedError(
                None,
                RejectionKind.TOO_MANY_FILES,
                f"{len(uploads)} files; at most {self._limits.max_files} per request",
            )
        infos = [await self._check(upload) for upload in uploads]

        now = self._clock()
        batch = Batch(self._new_id(), batch_label, now) if len(uploads) > 1 or batch_label else None
        tasks = []
        for upload, info in zip(uploads, infos, strict=True):
            task_id = self._new_id()
            image = CardImage(
                key=card_key(task_id, info.extension),
                filename=upload.filename,
                content_type=info.content_type,
                size=len(upload.data),
                width=info.width,
                height=info.height,
            )
            tasks.append(RecognitionTask.submit(task_id, image, now, batch_id=batch.id if batch else None))

        stored: list[str] = []
        try:
            for task, upload in zip(tasks, uploads, strict=True):
                await self._storage.put(task.image.key, upload.data, task.image.content_type)
                stored.append(task.image.key)
            async with self._uow() as uow:
                if batch is not None:
                    await uow.batches.add(batch)
                for task in tasks:
                    await uow.tasks.add(task)
                await uow.commit()
        except BaseException:
            for key in stored:
                with contextlib.suppress(Exception):
                    await self._storage.delete(key)
            raise
        return Submission(batch=batch, tasks=tuple(tasks))

    async def _check(self, upload: Upload) -> ImageInfo:
        name = upload.filename or "(unnamed file)"
        if not upload.data:
            raise UploadRejectedError(name, RejectionKind.UNREADABLE, "the file is empty")
        if len(upload.data) > self._limits.max_upload_bytes:
            raise UploadRejectedError(
                name,
                RejectionKind.TOO_LARGE,
                f"{len(upload.data)} bytes; at most {self._limits.max_upload_bytes} are accepted",
            )
        try:
            info = await self._inspector.inspect(upload.data, self._limits.max_pixels)
        except UnsupportedImageError as exc:
            raise UploadRejectedError(name, RejectionKind.UNSUPPORTED_TYPE, str(exc)) from None
        except UnreadableImageError as exc:
            raise UploadRejectedError(name, RejectionKind.UNREADABLE, str(exc)) from None
        if info.width * info.height > self._limits.max_pixels:
            raise UploadRejectedError(
                name,
                RejectionKind.TOO_MANY_PIXELS,
                f"{info.width}×{info.height} pixels; at most {self._limits.max_pixels} are accepted",
            )
        return info
