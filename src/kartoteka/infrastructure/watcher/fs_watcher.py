"""Watching one gallery root and reporting complete, per-file changes.

``watchfiles`` (inotify through the Rust ``notify`` crate) says only that *something* happened at a
path: a batch is an unordered set of (added | modified | deleted, path), a rename is a deletion plus
an addition, a directory moved into the tree is one addition (its files are not listed, and files
created in a new directory before its watch is set up are not reported at all), a directory moved
out is one deletion, and a file still being copied is reported as soon as it appears. Passed on as
they come, such events would leave stale rows, give moved images new ids and index half-written files,
so here a notification is only a hint of *where to look*.

This module is the pump around that: it keeps the OS watch running (armed before the first scan, so
nothing falls between the scan and the watch; started again when it stops, by polling if inotify
cannot be set up), turns notifications into root-relative paths, and in a worker thread ``stat``-s
and scans what the tree state asks about. What the looks mean — debouncing, size stability, renames
paired by (device, inode, size, mtime), directory moves, the root's loss and return — is decided by
:class:`~kartoteka.infrastructure.watcher.tree_state.TreeState`, whose docstring gives every rule;
the time it decides by is ``time.monotonic()``, read here.

Nothing inside the watcher ends it silently: an error in a pass is logged and the next pass runs.
The filesystem work of a pass runs in a worker thread; the event loop only moves batches around.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from watchfiles import Change, awatch

from kartoteka.domain.gallery.scan import ROOT_PATH, DirectoryScan
from kartoteka.domain.gallery.selection import FileSelection
from kartoteka.infrastructure.config.gallery import GallerySettings
from kartoteka.infrastructure.watcher.scanner import ScanOptions, scan_root
from kartoteka.infrastructure.watcher.tree_facts import (
    QUIET,
    Batch,
    FileStat,
    Found,
    Identity,
    Outcome,
    PathFact,
    RootGone,
    Unreadable,
    Watch,
)
from kartoteka.infrastructure.watcher.tree_state import TreeRules, TreeState

__all__ = ["Batch", "DirectoryWatcher", "WatcherOptions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WatcherOptions:
    """How one root is watched; :meth:`from_settings` reads them from the gallery settings.

    ``root_check_ms`` is how often an idle watcher checks its root (and how often a root that went
    away is polled); ``tick_ms`` how often files waiting to settle are looked at again (derived from
    the debounce and stability times when not given).
    """

    selection: FileSelection = field(default_factory=FileSelection)
    follow_symlinks: bool = False
    debounce_ms: int = 500
    stable_after_ms: int = 1000
    allow_empty_root_deletion: bool = False
    force_polling: bool = False
    poll_delay_ms: int = 1000
    rescan_interval_s: float = 0.0
    root_check_ms: int = 1000
    tick_ms: int | None = None

    @classmethod
    def from_settings(cls, settings: GallerySettings) -> WatcherOptions:
        return cls(
            selection=settings.selection,
            follow_symlinks=settings.follow_symlinks,
            debounce_ms=settings.debounce_ms,
            stable_after_ms=settings.stable_after_ms,
            allow_empty_root_deletion=settings.allow_empty_root_deletion,
            force_polling=settings.force_polling,
            poll_delay_ms=settings.poll_delay_ms,
            rescan_interval_s=settings.rescan_interval_s,
        )

    @property
    def tick_s(self) -> float:
        if self.tick_ms is not None:
            return self.tick_ms / 1000
        shortest = min(self.debounce_ms, self.stable_after_ms or self.debounce_ms)
        return min(max(shortest / 4, 20), 250) / 1000

    @property
    def scan_options(self) -> ScanOptions:
        return ScanOptions(self.selection, self.follow_symlinks)

    @property
    def tree_rules(self) -> TreeRules:
        return TreeRules(
            selection=self.selection,
            debounce_ms=self.debounce_ms,
            stable_after_ms=self.stable_after_ms,
            allow_empty_root_deletion=self.allow_empty_root_deletion,
            rescan_interval_s=self.rescan_interval_s,
            root_check_ms=self.root_check_ms,
            tick_s=self.tick_s,
        )


class DirectoryWatcher:
    """Reports the changes under one root as batches of :mod:`kartoteka.domain.gallery.changes` events.

    Usage::

        async with DirectoryWatcher(root, options) as watcher:
            baseline = watcher.baseline      # the scan made once the watch was armed: reconcile with it
            async for batch in watcher.events():
                ...                          # apply the batch in order (see the changes module)
    """

    def __init__(self, root: Path | str, options: WatcherOptions | None = None) -> None:
        self._root = Path(os.path.abspath(root))
        self._options = options or WatcherOptions()
        self._prefixes = (str(self._root),)
        self._tree = TreeState(self._options.tree_rules, label=str(self._root))

        self._polling = self._options.force_polling
        self._pump_started_at = 0.0

        self._raw: list[set[tuple[Change, str]]] = []
        self._wake = asyncio.Event()
        self._out: asyncio.Queue[Batch | None] = asyncio.Queue()
        self._pump_stop: asyncio.Event | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._pump_failure: BaseException | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._baseline: DirectoryScan | None = None

    @property
    def root(self) -> Path:
        return self._root

    @property
    def available(self) -> bool:
        """False while the root is missing, unreadable or looks unmounted (for health reports)."""
        return self._tree.available

    @property
    def unavailable_reason(self) -> str:
        """Why the root is unavailable; empty while it is available."""
        return self._tree.unavailable_reason

    @property
    def baseline(self) -> DirectoryScan:
        """The scan made by :meth:`start`, right after the watch was armed."""
        if self._baseline is None:
            raise RuntimeError("the watcher has not been started")
        return self._baseline

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> DirectoryScan:
        """Arm the OS watch, then scan the root; later events are relative to this scan.

        The order matters: a change made during the scan is then both in the scan or not, and in a
        notification, so it is looked at again; the other order would lose what changed in between.
        """
        if self._run_task is not None:
            raise RuntimeError("the watcher is already started")
        self._start_pump()
        # One turn of the loop runs the pump up to its first wait, by which time watchfiles has set
        # up its inotify watches (the RustNotify constructor adds them synchronously).
        await asyncio.sleep(0)
        scan = await asyncio.to_thread(scan_root, self._root, self._options.scan_options)
        self._baseline = scan
        batch = self._tree.start(scan, time.monotonic())
        if batch:
            self._out.put_nowait(batch)
        self._run_task = asyncio.create_task(self._run(), name=f"watcher:{self._root}")
        return scan

    async def stop(self) -> None:
        """Stop watching; :meth:`events` ends after the batches already made."""
        self._stopping = True
        self._wake.set()
        if self._run_task is not None:
            self._run_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._run_task
        await self._stop_pump()
        self._out.put_nowait(None)

    async def events(self) -> AsyncIterator[Batch]:
        """Batches of changes, each in an order that can be applied one event after another."""
        while True:
            batch = await self._out.get()
            if batch is None:
                self._out.put_nowait(None)  # a second reader ends too
                return
            yield batch

    # --- the event loop side ---------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._tree.next_pass_in())
            self._wake.clear()
            if self._stopping:
                return
            raw, self._raw = self._raw, []
            pump_alive = self._pump_task is not None and not self._pump_task.done()
            try:
                outcome = await asyncio.to_thread(self._pass, raw, time.monotonic(), pump_alive)
                await self._handle_pump(outcome.watch)
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("watcher pass failed for %s; carrying on", self._root)
                # Do not spin on a persistent failure; do not give up either.
                await asyncio.sleep(min(self._options.root_check_ms / 1000 * failures, 30.0))
                continue
            failures = 0
            if outcome.changes:
                self._out.put_nowait(outcome.changes)

    async def _handle_pump(self, watch: Watch) -> None:
        if watch is Watch.STOP:
            await self._stop_pump()
        elif watch is Watch.REARM:
            await self._stop_pump()
            self._start_pump()
            await asyncio.sleep(0)
            self._tree.rescan_soon()
            self._wake.set()
        elif self._tree.available and self._pump_task is not None and self._pump_task.done():
            await self._restart_failed_pump()

    async def _restart_failed_pump(self) -> None:
        """A watch that ended while the root is there is started again, and the tree rescanned."""
        if time.monotonic() - self._pump_started_at < self._options.root_check_ms / 1000:
            return
        failure = self._pump_failure
        if failure is not None and not isinstance(failure, FileNotFoundError) and not self._polling:
            log.warning("inotify watch of %s failed (%s); falling back to polling", self._root, failure)
            self._polling = True
        await self._stop_pump()
        self._start_pump()
        await asyncio.sleep(0)
        self._tree.rescan_soon()
        self._wake.set()

    def _start_pump(self) -> None:
        self._pump_stop = asyncio.Event()
        self._pump_failure = None
        self._pump_started_at = time.monotonic()
        self._pump_task = asyncio.create_task(self._pump(self._pump_stop), name=f"watchfiles:{self._root}")

    async def _stop_pump(self) -> None:
        task, stop = self._pump_task, self._pump_stop
        self._pump_task = self._pump_stop = None
        if stop is not None:
            stop.set()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _pump(self, stop: asyncio.Event) -> None:
        options = self._options
        try:
            async for changes in awatch(
                self._root,
                watch_filter=None,
                debounce=max(options.debounce_ms, 50),
                step=min(options.debounce_ms, 50),
                stop_event=stop,
                rust_timeout=1000,
                force_polling=self._polling,
                poll_delay_ms=options.poll_delay_ms,
                recursive=True,
                ignore_permission_denied=True,
            ):
                self._raw.append(changes)
                self._wake.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._pump_failure = exc
            level = logging.INFO if isinstance(exc, FileNotFoundError) else logging.WARNING
            log.log(level, "watch of %s ended: %s", self._root, exc)
        self._wake.set()

    # --- one pass, in a worker thread --------------------------------------------------------------

    def _pass(self, raw: list[set[tuple[Change, str]]], now: float, pump_alive: bool) -> Outcome:
        """Answer the tree state's questions with the filesystem's facts (see :mod:`.tree_state`)."""
        tree = self._tree
        if not tree.begin_pass(now):
            return QUIET
        outcome = tree.root_seen(self._stat_root(), pump_alive)
        if outcome is None and tree.rescan_due(now):
            outcome = tree.rescanned(self._scan(ROOT_PATH), now)
        if outcome is not None:
            return outcome
        for path in tree.hinted(self._relative_paths(raw)):
            self._examine(path, now)
        for path in tree.due(now):
            tree.rechecked(path, self._stat(path), now)
        return tree.settle(now)

    def _examine(self, path: str, now: float) -> None:
        """Look at one hinted path (and, when it asks, scan a directory) and tell the tree state."""
        directory = self._tree.examined(path, self._stat(path), now)
        if directory is not None:
            self._tree.discovered(directory, self._scan(directory), now)

    def _stat_root(self) -> Identity | RootGone:
        """The root's (device, inode), or why it cannot be used."""
        try:
            info = os.stat(self._root)
        except FileNotFoundError:
            return RootGone("the root directory does not exist")
        except OSError as exc:
            return RootGone(f"the root directory cannot be read: {exc.strerror or exc}")
        if not stat.S_ISDIR(info.st_mode):
            return RootGone("the root is not a directory")
        if not os.access(self._root, os.R_OK | os.X_OK):
            return RootGone("the root directory cannot be read: permission denied")
        return (info.st_dev, info.st_ino)

    def _stat(self, path: str) -> PathFact:
        """What is at a root-relative path now (through a link only when links are followed)."""
        absolute = self._root / path
        try:
            info = os.stat(absolute) if self._options.follow_symlinks else os.lstat(absolute)
        except (FileNotFoundError, NotADirectoryError):
            return Found.NOTHING
        except OSError as exc:
            return Unreadable(str(exc))
        if stat.S_ISDIR(info.st_mode):
            return Found.DIRECTORY
        if stat.S_ISREG(info.st_mode):
            return FileStat(info.st_size, info.st_mtime_ns, info.st_dev, info.st_ino)
        return Found.OTHER

    def _scan(self, start: str) -> DirectoryScan:
        return scan_root(self._root, self._options.scan_options, start=start)

    def _relative_paths(self, raw: Iterable[set[tuple[Change, str]]]) -> Iterable[str]:
        """The notified paths, relative to the root; those outside it are dropped."""
        for changes in raw:
            for _, absolute in changes:
                relative = self._relative(absolute)
                if relative is not None:
                    yield relative

    def _relative(self, absolute: str) -> str | None:
        for prefix in self._prefixes:
            if absolute == prefix:
                return ROOT_PATH
            if absolute.startswith(prefix + os.sep):
                return absolute[len(prefix) + 1 :].replace(os.sep, "/")
        return None
