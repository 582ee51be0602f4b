"""IndexImages and PrepareModel: the embedding worker's jobs.

A batch is read, embedded in one model call and written in one transaction;
an image that cannot be read or decoded is marked failed with its reason and
never takes the rest of its batch down. A model the gallery has not seen yet
(a new key, or new weights under the same key) is registered as *building*:
every image is queued for it, searches stay on the previous complete model,
and the switch happens when the last pending image is done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from kartoteka.application.gallery.outbox_messages import embed_job, gallery_event
from kartoteka.application.gallery.ports.embedding import ImageEncoder, ImageKind, NotEmbedded
from kartoteka.application.gallery.ports.files import ImageBytes, Thumbnail, ThumbnailMaker
from kartoteka.application.gallery.ports.store import GalleryUnitOfWork, ModelRegistry, ModelState
from kartoteka.application.shared.database import DatabaseUnavailableError
from kartoteka.application.shared.images import UnreadableImageError
from kartoteka.application.shared.live_messages import FileEmbeddedEvent
from kartoteka.application.shared.storage import ObjectStorage, StorageUnavailableError
from kartoteka.domain.gallery.image import GalleryImage, ImageNotFoundError

log = logging.getLogger(__name__)


T = TypeVar("T")
R = TypeVar("R")

# Object-store requests of one batch in flight at once: reads and thumbnail writes wait on the
# network, not on this process, so they overlap; the bound keeps a large batch from opening a
# connection per image.
IO_CONCURRENCY = 8


async def _each(items: Sequence[T], action: Callable[[T], Awaitable[R]], limit: int = IO_CONCURRENCY) -> list[R]:
    """``action`` on every item, at most ``limit`` at a time; results in the order of ``items``."""
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with gate:
            return await action(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


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
        for image, read in zip(images, await _each(images, self._read), strict=True):
            if isinstance(read, bytes):
                readable.append((image, read))
            else:
                failures[image.id] = read
        data = [item for _, item in readable]
        # Thumbnails are drawn one at a time in the background while the encoder decodes and embeds the
        # batch: their work overlaps the encoder's instead of following it. Only those of images that
        # embedded are kept.
        drafts = asyncio.ensure_future(self._draft_thumbnails(data))
        try:
            outcomes = await self._encoder.embed_images(data, ImageKind.PHOTO)
        except BaseException:
            drafts.cancel()
            await asyncio.gather(drafts, return_exceptions=True)
            raise
        vectors: dict[UUID, list[float]] = {}
        thumbnails: dict[UUID, Thumbnail] = {}
        for (image, _), outcome, draft in zip(readable, outcomes, await drafts, strict=True):
            if isinstance(outcome, NotEmbedded):
                failures[image.id] = outcome.reason
                continue
            vectors[image.id] = outcome.vector
            if isinstance(draft, UnreadableImageError):
                log.warning("no thumbnail for %s: %s", image.path, draft)
            else:
                thumbnails[image.id] = draft
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

    async def isolating(self, image_ids: Sequence[UUID]) -> IndexReport:
        """Index the batch; if it breaks for a reason that is not an outage, each image is tried alone
        and the one that breaks is marked failed with the reason, so a bad image fails alone.

        An outage (the database, the object store, the network) is raised as it is: the images stay
        pending and the sweeper sends their job again once it has passed.
        """
        try:
            return await self(image_ids)
        except Exception as exc:
            if _is_outage(exc):
                raise
            ids = list(dict.fromkeys(image_ids))
            if len(ids) > 1:
                log.warning("a batch of %d images broke (%s); indexing them one by one", len(ids), exc)
                reports = [await self.isolating([i]) for i in ids]
                return IndexReport(
                    embedded=sum(r.embedded for r in reports),
                    failed=sum(r.failed for r in reports),
                    skipped=sum(r.skipped for r in reports),
                    to_index=reports[-1].to_index,
                )
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            log.warning("image %s cannot be indexed: %s", ids[0] if ids else None, reason)
            async with self._uow() as uow:
                for image_id in ids:
                    await uow.vectors.save_failure(image_id, self._encoder.model, reason)
                await uow.commit()
            progress = await self._models.progress(self._encoder.model)
            return IndexReport(embedded=0, failed=len(ids), skipped=0, to_index=progress.pending)

    async def _read(self, image: GalleryImage) -> bytes | str:
        """The image's bytes, or why they cannot be read."""
        try:
            return await self._files.read(image)
        except ImageNotFoundError:
            return "the file is gone"
        except OSError as exc:
            return f"cannot read the file: {exc}"

    async def _draft_thumbnails(self, data: Sequence[bytes]) -> list[Thumbnail | UnreadableImageError]:
        made: list[Thumbnail | UnreadableImageError] = []
        for item in data:
            try:
                made.append(await self._thumbnails.make(item))
            except UnreadableImageError as exc:
                made.append(exc)
        return made


def _is_outage(exc: BaseException) -> bool:
    """A failure that says nothing about the images: a server out of reach, the network, a time-out."""
    return isinstance(exc, DatabaseUnavailableError | StorageUnavailableError | OSError | TimeoutError)


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
