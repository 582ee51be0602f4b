"""IndexImages and PrepareModel: the embedding worker's jobs.

A batch is read, embedded in one model call and written in one transaction;
an image that cannot be read or decoded is marked failed with its reason and
never takes the rest of its batch down. A model the gallery has not seen yet
(a new key, or new weights under the same key) is registered as *building*:
every image is queued for it, searches stay on the previous complete model,
and the switch happens when the last pending image is done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from kartoteka.application.gallery.messages import embed_job, gallery_event
from kartoteka.application.ports.embedding import ImageEncoder, ImageKind, NotEmbedded
from kartoteka.application.ports.gallery import (
    GalleryUnitOfWork,
    ImageBytes,
    ModelRegistry,
    ModelState,
    Thumbnail,
    ThumbnailMaker,
)
from kartoteka.application.ports.storage import ObjectStorage
from kartoteka.domain.gallery.events import FileEmbeddedEvent
from kartoteka.domain.gallery.image import GalleryImage, ImageNotFoundError
from kartoteka.domain.recognition.errors import UnreadableImageError

log = logging.getLogger(__name__)


def thumbnail_key(image_id: UUID) -> str:
    """Where the worker keeps an image's thumbnail: one key per image, overwritten when it changes."""
    return f"thumbnails/{image_id}.jpg"


@dataclass(frozen=True, slots=True)
class IndexReport:
    embedded: int
    failed: int
    skipped: int  # deleted (or changed and queued again) before their vectors were stored
    to_index: int


class IndexImages:
    def __init__(
        self,
        uow: Callable[[], GalleryUnitOfWork],
        encoder: ImageEncoder,
        files: ImageBytes,
        thumbnails: ThumbnailMaker,
        storage: ObjectStorage,
        models: ModelRegistry,
    ) -> None:
        self._uow = uow
        self._encoder = encoder
        self._files = files
        self._thumbnails = thumbnails
        self._storage = storage
        self._models = models

    async def __call__(self, image_ids: Sequence[UUID]) -> IndexReport:
        model = self._encoder.model
        images: list[GalleryImage] = []
        async with self._uow() as uow:
            for image_id in dict.fromkeys(image_ids):
                try:
                    images.append(await uow.images.get(image_id))
                except ImageNotFoundError:
                    continue
        readable: list[tuple[GalleryImage, bytes]] = []
        failures: dict[UUID, str] = {}
        for image in images:
            try:
                readable.append((image, await self._files.read(image)))
            except ImageNotFoundError:
                failures[image.id] = "the file is gone"
            except OSError as exc:
                failures[image.id] = f"cannot read the file: {exc}"
        outcomes = await self._encoder.embed_images([data for _, data in readable], ImageKind.PHOTO)
        vectors: dict[UUID, list[float]] = {}
        thumbnails: dict[UUID, Thumbnail] = {}
        for (image, data), outcome in zip(readable, outcomes, strict=True):
            if isinstance(outcome, NotEmbedded):
                failures[image.id] = outcome.reason
                continue
            vectors[image.id] = outcome.vector
            try:
                thumbnails[image.id] = await self._thumbnails.make(data)
            except UnreadableImageError as exc:
                log.warning("no thumbnail for %s: %s", image.path, exc)
        # Embedding took a while: the image may have been deleted, renamed or rewritten since it was
        # read. Only what indexing learned is written, only onto the content that was embedded; the
        # row stays locked from then to the commit, so a delete or a change waits for the vector and
        # the thumbnail to be in (and then removes or replaces both) instead of breaking the batch.
        embedded, gone = 0, 0
        async with self._uow() as uow:
            for image in images:
                made = thumbnails.get(image.id)
                if made is not None:
                    image.thumbnail_key = thumbnail_key(image.id)
                    image.width, image.height = made.width, made.height
                image.error = failures.get(image.id)
                if not await uow.images.record_indexing(image):
                    gone += 1  # deleted, or changed and queued again: this vector would be stale
                    failures.pop(image.id, None)
                    continue
                if made is not None:
                    await self._storage.put(thumbnail_key(image.id), made.data, made.media_type)
                if image.id in vectors:
                    await uow.vectors.save(image.id, model, vectors[image.id])
                    embedded += 1
                elif image.id in failures:
                    await uow.vectors.save_failure(image.id, model, failures[image.id])
            await uow.commit()
        progress = await self._models.progress(model)
        async with self._uow() as uow:
            uow.send(gallery_event(FileEmbeddedEvent(count=embedded, to_index=progress.pending)))
            await uow.commit()
        record = await self._models.get(model)
        if progress.complete and record is not None and record.state is ModelState.BUILDING:
            await self._models.mark_ready(model)
            log.info("index of %s/%s is complete: searches use it now", model.key, model.version)
        skipped = len(dict.fromkeys(image_ids)) - len(images) + gone
        return IndexReport(embedded, len(failures), skipped, progress.pending)


class PrepareModel:
    """At worker start: make sure the gallery has (or is building) vectors of the loaded model."""

    def __init__(
        self,
        uow: Callable[[], GalleryUnitOfWork],
        encoder: ImageEncoder,
        models: ModelRegistry,
        batch_size: int,
    ) -> None:
        self._uow = uow
        self._encoder = encoder
        self._models = models
        self._batch_size = batch_size

    async def __call__(self) -> int:
        """Returns how many images were queued for the model."""
        model = self._encoder.model
        record = await self._models.register(model, self._encoder.dimension, self._encoder.supports_text)
        queued = 0
        while True:
            missing = await self._models.images_without_vectors(model, 10 * self._batch_size)
            if not missing:
                break
            async with self._uow() as uow:
                await uow.vectors.mark_pending(missing, model)
                for start in range(0, len(missing), self._batch_size):
                    uow.send(embed_job(missing[start : start + self._batch_size]))
                await uow.commit()
            queued += len(missing)
        if record.state is ModelState.BUILDING and (await self._models.progress(model)).complete:
            await self._models.mark_ready(model)  # an empty gallery, or every image already done
        return queued
