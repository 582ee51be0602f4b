"""``kartoteka watcher``: reconcile every configured root, then follow it, until told to stop.

Each root is held by a PostgreSQL advisory lock, so a second watcher (another
machine, a restart overlapping the old process) stands by instead of applying
the same changes twice. The watch is armed before the baseline scan, so a
change made during reconciliation is reported afterwards, not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from uuid import uuid4

from kartoteka.application.gallery.watching import ApplyFileChanges
from kartoteka.domain.gallery.image import RootMount, mounts_for
from kartoteka.infrastructure.clock import utc_now
from kartoteka.infrastructure.config.gallery import WatchedRoot
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.db.engine import create_engine
from kartoteka.infrastructure.db.gallery.locks import root_lock
from kartoteka.infrastructure.db.gallery.unit_of_work import SqlGalleryUnitOfWork
from kartoteka.infrastructure.watcher.fs_watcher import DirectoryWatcher, WatcherOptions
from kartoteka.infrastructure.watcher.hashing import RootFileHasher
from kartoteka.runtime.relay import listen_dsn

log = logging.getLogger(__name__)


async def _follow(settings: Settings, index: ApplyFileChanges, mount: RootMount, root: WatchedRoot) -> None:
    path = root.path
    options = WatcherOptions.from_settings(settings.gallery)
    lock = root_lock(listen_dsn(settings.database.url), root.normalised)
    async with lock, DirectoryWatcher(path, options) as watcher:
        report = await index(
            mount, watcher.baseline, allow_empty_root_deletion=settings.gallery.allow_empty_root_deletion
        )
        log.info(
            "%s reconciled: %d unchanged, %d new, %d changed, %d moved, %d deleted",
            path,
            report.unchanged,
            report.created,
            report.modified,
            report.moved,
            report.deleted,
        )
        async for batch in watcher.events():
            try:
                await index.apply(mount, batch)
            except Exception:  # one bad batch (a database hiccup) must not end the watch
                log.exception("applying %d changes under %s failed; a later rescan repairs it", len(batch), path)


async def run_watcher(settings: Settings, stop: asyncio.Event) -> None:
    roots = settings.gallery.roots
    if not roots:
        log.warning("no gallery roots are configured (gallery.roots); the watcher has nothing to do")
        await stop.wait()
        return
    paths = {root.display_name: root.path for root in roots}
    mounts = mounts_for(list(paths))
    engine = create_engine(settings.database)
    index = ApplyFileChanges(
        lambda: SqlGalleryUnitOfWork(engine), RootFileHasher(paths), utc_now, uuid4, settings.gallery.batch_size
    )
    tasks = [
        asyncio.create_task(
            _follow(settings, index, mounts[root.display_name], root), name=f"watch:{root.display_name}"
        )
        for root in roots
    ]
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({*tasks, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in (*tasks, stopper):
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await engine.dispose()
