"""ReconcileRoot and ApplyFileChanges: the index follows a watched directory.

Both turn what the filesystem says into rows, vectors to (re)compute and the
UI's file events, in transactions of bounded size. A file that moved keeps its
id (and so its vectors); a file whose content changed keeps its id and is
re-embedded; nothing is deleted on the word of a scan that cannot be trusted
(the reconciliation plan decides that, see ``domain/gallery/reconciliation``).
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from kartoteka.application.gallery.outbox_messages import embed_job, gallery_event
from kartoteka.application.gallery.ports.files import FileHasher
from kartoteka.application.gallery.ports.store import GalleryUnitOfWork
from kartoteka.application.shared.clock import Clock, NewId
from kartoteka.application.shared.live_messages import (
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    GalleryEvent,
)
from kartoteka.domain.errors import ErrorKind, Refusal
from kartoteka.domain.gallery import changes
from kartoteka.domain.gallery.image import GalleryImage, ImageConflictError, ImageSource, RootMount, split_path
from kartoteka.domain.gallery.reconciliation import (
    CreatedFile,
    IndexedFile,
    ModifiedFile,
    MovedFile,
    ReconciliationWarning,
    TouchedFile,
    plan_reconciliation,
)
from kartoteka.domain.gallery.scan import DirectoryScan

log = logging.getLogger(__name__)

Step = IndexedFile | MovedFile | ModifiedFile | TouchedFile | CreatedFile

Change = (
    changes.FileCreated
    | changes.FileModified
    | changes.FileMoved
    | changes.FileDeleted
    | changes.DirectoryCreated
    | changes.DirectoryMoved
    | changes.DirectoryDeleted
    | changes.RootUnavailable
    | changes.RootAvailable
)


MAX_CLASH_SUFFIX = 20


def clash_name(path: str, number: int) -> str:
    """``clash/x.png`` → ``clash/x (2).png``: the name a watched file gets beside an upload holding its own."""
    folder, name = split_path(path)
    stem, dot, extension = name.rpartition(".")
    renamed = f"{stem} ({number}).{extension}" if dot and stem else f"{name} ({number})"
    return renamed if folder == "." else f"{folder}/{renamed}"


def _time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


def _media_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or ""


@dataclass
class _Writer:
    """What one transaction does to one root's rows, with the embedding jobs and UI events it owes.

    Both use cases write through it, so a file created, modified, moved, touched or deleted is
    recorded the same way whether a reconciliation or a watcher event found it.
    """

    uow: GalleryUnitOfWork
    mount: RootMount
    new_id: NewId
    batch_size: int
    to_embed: list[UUID] = field(default_factory=list)
    events: list[GalleryEvent] = field(default_factory=list)

    def finish(self) -> None:
        for start in range(0, len(self.to_embed), self.batch_size):
            self.uow.send(embed_job(self.to_embed[start : start + self.batch_size]))
        for event in self.events:
            self.uow.send(gallery_event(event))

    async def delete(self, image: GalleryImage) -> None:
        await self.uow.images.delete(image.id)
        self.events.append(FileDeletedEvent(image.path))

    async def move(self, image: GalleryImage, root_path: str, size: int, mtime_ns: int, now: datetime) -> None:
        old = image.path
        image.root_path = root_path
        image.size, image.mtime_ns = size, mtime_ns
        if not await self._place(image, self.uow.images.update):
            return
        self.events.append(FileMovedEvent(old, image.path, now))

    async def _place(self, image: GalleryImage, write: Callable[[GalleryImage], Awaitable[None]]) -> bool:
        """Write ``image`` at its root path's gallery path, or, when an upload or a card already holds
        that path, at the first free ``name (n).ext`` beside it, with a warning: a watched file never
        fails its batch (or the watcher's start) over a name someone else took. False if no name was
        free (the file is then left out, and reported)."""
        wanted = self.mount.gallery_path(image.root_path or "")
        for attempt in range(MAX_CLASH_SUFFIX + 1):
            image.move_to(wanted if attempt == 0 else clash_name(wanted, attempt))
            try:
                await write(image)
            except ImageConflictError:
                continue
            if attempt:
                log.warning("%r is taken in the gallery (an upload?); the watched file shows as %r", wanted, image.path)
            return True
        log.warning("%r and %d alternatives are taken in the gallery; the watched file is left out", wanted, attempt)
        return False

    async def modify(self, image: GalleryImage, size: int, mtime_ns: int, digest: str) -> None:
        image.size, image.mtime_ns, image.content_hash = size, mtime_ns, digest
        image.modified_at = _time(mtime_ns)
        image.thumbnail_key = None
        await self.uow.images.update(image)
        await self.uow.vectors.clear(image.id)
        self.to_embed.append(image.id)
        self.events.append(FileModifiedEvent(image.path, image.modified_at))

    async def touch(self, image: GalleryImage, size: int, mtime_ns: int) -> None:
        image.size, image.mtime_ns = size, mtime_ns
        await self.uow.images.update(image)

    async def create(self, root_path: str, size: int, mtime_ns: int, digest: str) -> None:
        path = self.mount.gallery_path(root_path)
        directory, name = split_path(path)
        image = GalleryImage(
            id=self.new_id(),
            source=ImageSource.DIRECTORY,
            path=path,
            name=name,
            directory=directory,
            size=size,
            content_hash=digest,
            created_at=_time(mtime_ns),
            modified_at=_time(mtime_ns),
            media_type=_media_type(root_path),
            root=self.mount.name,
            root_path=root_path,
            mtime_ns=mtime_ns,
        )
        if not await self._place(image, self.uow.images.add):
            return
        self.to_embed.append(image.id)
        self.events.append(FileCreatedEvent(image.path, image.created_at))


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    unchanged: int
    created: int
    modified: int
    moved: int
    touched: int
    deleted: int
    warnings: tuple[ReconciliationWarning, ...]


class ReconcileRoot:
    """Bring a root's index in line with a full scan of it, in transactions of ``CHUNK`` steps."""

    CHUNK = 500

    def __init__(
        self,
        uow: Callable[[], GalleryUnitOfWork],
        hasher: FileHasher,
        clock: Clock,
        new_id: NewId,
        batch_size: int,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock
        self._new_id = new_id
        self._batch_size = batch_size

    async def __call__(
        self, mount: RootMount, scan: DirectoryScan, *, allow_empty_root_deletion: bool
    ) -> ReconcileReport:
        async with self._uow() as uow:
            rows = await uow.images.in_root(mount.name)
        by_id = {row.id: row for row in rows}
        indexed = [
            IndexedFile(row.id, row.root_path or "", row.size, row.mtime_ns or 0, row.content_hash) for row in rows
        ]
        plan = plan_reconciliation(indexed, scan, allow_empty_root_deletion=allow_empty_root_deletion)
        hashes = await self._hasher.hash_many(mount.name, plan.paths_to_hash) if plan.paths_to_hash else {}
        result = plan.resolve(hashes)
        for warning in result.warnings:
            log.warning("%s: %s", mount.name, warning.message)
        now = self._clock()
        # The plan's order: deletions free paths that moves may take; creations come last.
        steps: list[Step] = [*result.deleted, *result.moved, *result.modified, *result.touched, *result.created]
        for start in range(0, max(len(steps), 1), self.CHUNK):
            async with self._uow() as uow:
                writer = _Writer(uow, mount, self._new_id, self._batch_size)
                for step in steps[start : start + self.CHUNK]:
                    await _step(writer, by_id, step, now)
                if start == 0:
                    await uow.images.remember_directories(
                        [
                            (mount.gallery_directory(d.path), _time(d.ctime_ns), _time(d.mtime_ns))
                            for d in scan.directories
                            if mount.gallery_directory(d.path) != "."
                        ]
                    )
                writer.finish()
                await uow.commit()
        return ReconcileReport(
            unchanged=len(result.unchanged),
            created=len(result.created),
            modified=len(result.modified),
            moved=len(result.moved),
            touched=len(result.touched),
            deleted=len(result.deleted),
            warnings=result.warnings,
        )


async def _step(w: _Writer, by_id: dict[UUID, GalleryImage], step: Step, now: datetime) -> None:
    match step:
        case IndexedFile():
            await w.delete(by_id[step.image_id])
        case MovedFile():
            scanned = step.scanned
            await w.move(by_id[step.image_id], scanned.path, scanned.size, scanned.mtime_ns, now)
        case ModifiedFile():
            image, scanned = by_id[step.indexed.image_id], step.scanned
            await w.modify(image, scanned.size, scanned.mtime_ns, step.content_hash)
        case TouchedFile():
            await w.touch(by_id[step.indexed.image_id], step.scanned.size, step.scanned.mtime_ns)
        case CreatedFile():
            scanned = step.scanned
            await w.create(scanned.path, scanned.size, scanned.mtime_ns, step.content_hash)


def _unavailable(error: Exception) -> bool:
    return isinstance(error, Refusal) and error.kind is ErrorKind.UNAVAILABLE


class ApplyFileChanges:
    """One batch of watcher events, applied in one transaction; safe to apply twice."""

    def __init__(
        self,
        uow: Callable[[], GalleryUnitOfWork],
        hasher: FileHasher,
        clock: Clock,
        new_id: NewId,
        batch_size: int,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock
        self._new_id = new_id
        self._batch_size = batch_size

    async def __call__(self, mount: RootMount, batch: Sequence[Change]) -> None:
        paths = [c.path for c in batch if isinstance(c, changes.FileCreated | changes.FileModified)]
        paths += [c.new_path for c in batch if isinstance(c, changes.FileMoved)]
        hashes = await self._hasher.hash_many(mount.name, paths) if paths else {}
        now = self._clock()
        try:
            await self._apply(mount, batch, hashes, now)
        except Exception as exc:
            if _unavailable(exc) or len(batch) == 1:
                raise  # the database is away: the whole batch waits for the next try
            # One change the store refuses must not keep the others out: each alone, in its own transaction.
            log.warning(
                "a batch of %d changes under %s failed (%s); applying them one by one", len(batch), mount.name, exc
            )
            for change in batch:
                try:
                    await self._apply(mount, [change], hashes, now)
                except Exception as alone:
                    if _unavailable(alone):
                        raise
                    log.warning("%s: %s was left out: %s", mount.name, change, alone)

    async def _apply(self, mount: RootMount, batch: Sequence[Change], hashes: dict[str, str], now: datetime) -> None:
        async with self._uow() as uow:
            w = _Writer(uow, mount, self._new_id, self._batch_size)
            for change in batch:
                await self._one(w, mount, change, hashes, now)
            w.finish()
            await uow.commit()

    async def _one(self, w: _Writer, mount: RootMount, change: Change, hashes: dict[str, str], now: datetime) -> None:
        images = w.uow.images
        match change:
            case changes.FileCreated(path, size, mtime_ns) | changes.FileModified(path, size, mtime_ns):
                digest = hashes.get(path)
                if digest is None:
                    return  # vanished or unreadable since: the next event or reconciliation decides
                existing = await images.by_root_path(mount.name, path)
                if existing is None:
                    await w.create(path, size, mtime_ns, digest)
                elif existing.content_hash != digest:
                    await w.modify(existing, size, mtime_ns, digest)
                else:
                    await w.touch(existing, size, mtime_ns)
            case changes.FileMoved(old_path, new_path, size, mtime_ns):
                existing = await images.by_root_path(mount.name, old_path)
                target = await images.by_root_path(mount.name, new_path)
                if existing is None:
                    if target is not None:  # already moved (with its directory, or applied twice)
                        await w.touch(target, size, mtime_ns)
                    elif (digest := hashes.get(new_path)) is not None:
                        await w.create(new_path, size, mtime_ns, digest)
                    return
                if target is not None and target.id != existing.id:
                    await w.delete(target)  # a file moved over another one replaces it
                await w.move(existing, new_path, size, mtime_ns, now)
            case changes.FileDeleted(path):
                existing = await images.by_root_path(mount.name, path)
                if existing is not None:
                    await w.delete(existing)
            case changes.DirectoryCreated(path):
                await images.remember_directories([(mount.gallery_directory(path), now, now)])
            case changes.DirectoryMoved(old_path, new_path):
                for image in await images.under_root_path(mount.name, old_path):
                    assert image.root_path is not None
                    moved = new_path + image.root_path[len(old_path) :]
                    await w.move(image, moved, image.size, image.mtime_ns or 0, now)
                await images.forget_directories(mount.gallery_directory(old_path))
                await images.remember_directories([(mount.gallery_directory(new_path), now, now)])
            case changes.DirectoryDeleted(path):
                for image in await images.under_root_path(mount.name, path):
                    await w.delete(image)
                await images.forget_directories(mount.gallery_directory(path))
            case changes.RootUnavailable(reason):
                log.warning("%s is unavailable (%s); its images stay indexed until it returns", mount.name, reason)
            case changes.RootAvailable():
                log.info("%s is available again", mount.name)
