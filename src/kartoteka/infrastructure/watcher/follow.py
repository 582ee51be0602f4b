"""WatchRoots: reconcile every configured root, then follow it, until told to stop.

Each root is held by a PostgreSQL advisory lock, so a second watcher (another
machine, a restart overlapping the old process) stands by instead of applying
the same changes twice. The watch is armed before the baseline scan, so a
change made during reconciliation is reported afterwards, not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kartoteka.application.gallery.watching import ApplyFileChanges, ReconcileRoot
from kartoteka.domain.gallery.image import RootMount, mounts_for
from kartoteka.infrastructure.config.gallery import GallerySettings, WatchedRoot
from kartoteka.infrastructure.db.gallery.locks import root_lock
from kartoteka.infrastructure.observability.metrics import RECONCILED_FILES, WATCH_EVENTS
from kartoteka.infrastructure.watcher.fs_watcher import DirectoryWatcher, WatcherOptions

log = logging.getLogger(__name__)


class WatchRoots:
    def __init__(
        self, reconcile: ReconcileRoot, apply: ApplyFileChanges, settings: GallerySettings, lock_dsn: str
    ) -> None:
        self._reconcile = reconcile
        self._apply = apply
        self._settings = settings
        self._lock_dsn = lock_dsn

    async def run(self, stop: asyncio.Event) -> None:
        roots = self._settings.roots
        if not roots:
            log.warning("no gallery roots are configured (gallery.roots); the watcher has nothing to do")
            await stop.wait()
            return
        mounts = mounts_for([root.display_name for root in roots])
        tasks = [
            asyncio.create_task(self._follow(mounts[root.display_name], root), name=f"watch:{root.display_name}")
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

    async def _follow(self, mount: RootMount, root: WatchedRoot) -> None:
        path = root.path
        options = WatcherOptions.from_settings(self._settings)
        async with root_lock(self._lock_dsn, root.normalised), DirectoryWatcher(path, options) as watcher:
            report = await self._reconcile(
                mount, watcher.baseline, allow_empty_root_deletion=self._settings.allow_empty_root_deletion
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
            for outcome, count in (
                ("unchanged", report.unchanged),
                ("new", report.created),
                ("changed", report.modified),
                ("moved", report.moved),
                ("deleted", report.deleted),
            ):
                RECONCILED_FILES.labels(outcome).inc(count)
            async for batch in watcher.events():
                try:
                    await self._apply(mount, batch)
                    for change in batch:
                        WATCH_EVENTS.labels(type(change).__name__).inc()
                except Exception:  # one bad batch (a database hiccup) must not end the watch
                    log.exception("applying %d changes under %s failed; a later rescan repairs it", len(batch), path)
