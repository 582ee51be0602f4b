"""SyncCardImage: a recognised card scan joins the gallery, and leaves it with its task.

Runs on the embedding queue after a task completes or is deleted; it looks at
the task as it is now, so a late or repeated message does the right thing.
The scan is not copied: the gallery image points at the task's object in S3.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from uuid import UUID

from kartoteka.application.gallery.outbox_messages import embed_job, gallery_event
from kartoteka.application.gallery.ports.store import GalleryUnitOfWork
from kartoteka.application.recognition.ports.tasks import TaskNotFoundError, UnitOfWork
from kartoteka.application.shared.clock import Clock
from kartoteka.application.shared.live_messages import FileCreatedEvent, FileDeletedEvent
from kartoteka.application.shared.storage import ObjectNotFoundError, ObjectStorage
from kartoteka.domain.gallery.image import GalleryImage, ImageSource, validate_name
from kartoteka.domain.recognition.task import RecognitionTask, TaskStatus

CARDS_FOLDER = "cards"


def card_name(task: RecognitionTask) -> str:
    """The scan's own file name, made unique by the task id (many cards share ``scan.jpg``)."""
    try:
        name = validate_name(task.image.filename)
    except ValueError:
        name = "card"
    return f"{str(task.id)[:8]}-{name}"


class SyncCardImage:
    def __init__(
        self,
        tasks: Callable[[], UnitOfWork],
        gallery: Callable[[], GalleryUnitOfWork],
        storage: ObjectStorage,
        clock: Clock,
    ) -> None:
        self._tasks = tasks
        self._gallery = gallery
        self._storage = storage
        self._clock = clock

    async def __call__(self, task_id: UUID) -> GalleryImage | None:
        try:
            async with self._tasks() as uow:
                task: RecognitionTask | None = await uow.tasks.get(task_id)
        except TaskNotFoundError:
            task = None
        async with self._gallery() as uow:
            existing = await uow.images.of_task(task_id)
            if task is None or task.status is not TaskStatus.COMPLETED:
                if existing is not None and task is None:
                    await uow.images.delete(existing.id)
                    uow.send(gallery_event(FileDeletedEvent(existing.path)))
                    await uow.commit()
                return None
            if existing is not None:
                return existing
            try:
                scan = await self._storage.get(task.image.key)
            except ObjectNotFoundError:
                return None  # deleted while this message waited; its deletion message follows
            name = card_name(task)
            image = GalleryImage(
                id=task.id,  # one card, one image: the same id in both halves of the archive
                source=ImageSource.CARD,
                path=f"{CARDS_FOLDER}/{name}",
                name=name,
                directory=CARDS_FOLDER,
                size=task.image.size,
                content_hash=hashlib.sha256(scan.data).hexdigest(),
                created_at=task.created_at,
                modified_at=task.finished_at or self._clock(),
                media_type=task.image.content_type,
                width=task.image.width,
                height=task.image.height,
                object_key=task.image.key,
                task_id=task.id,
            )
            await uow.images.add(image)
            uow.send(embed_job([image.id]))
            uow.send(gallery_event(FileCreatedEvent(image.path, image.created_at)))
            await uow.commit()
            return image
