"""Watching one gallery root and reporting complete, per-file changes.

``watchfiles`` (inotify through the Rust ``notify`` crate) says only that *something* happened at a
path: a batch is an unordered set of (added | modified | deleted, path), a rename is a deletion plus
an addition, a directory moved into the tree is one addition (its files are not listed, and files
created in a new directory before its watch is set up are not reported at all), a directory moved
out is one deletion, and a file still being copied is reported as soon as it appears. The reference
watcher passed such events on as they came and so leaked stale rows, gave moved images new ids and
indexed half-written files. Here a notification is only a hint of *where to look*:

- The watcher keeps its own picture of the tree — the image files it has reported, with size, mtime
  and (device, inode), and the directories — starting from a scan made *after* the notifications
  were armed, so nothing falls between the scan and the watch.
- A hinted file is ``stat``-ed; a hinted directory is scanned (inode numbers are reused at once, so
  a directory removed and made anew can look unchanged from outside). What exists is compared with
  the picture.
- A file that is new or changed is reported once its size and mtime have stayed the same for
  ``stable_after_ms`` and no notification touched it for ``debounce_ms``: a burst of writes is one
  event, and a file being copied is reported when the copy is done.
- A file that disappeared is held for ``debounce_ms``. If a new path with the same (device, inode,
  size, mtime) turns up meanwhile, that is a rename: one :class:`FileMoved`, the id is kept. This
  covers a file renamed, a directory renamed (each file inside is found by scanning the new
  directory), and a file hard-linked then unlinked. Otherwise it is a :class:`FileDeleted`; a
  directory that disappeared deletes every file the picture had below it. A file renamed *over*
  another image is reported as that target modified (it keeps the target's id) and the source
  deleted, so that a move never lands on a path the index still has. A directory counts as renamed
  (:class:`DirectoryMoved`) when its inode reappears elsewhere *and* a file moved with it, or its
  parent's rename explains it, or both are empty — an inode alone may be a reused number.
- The root is checked on every pass. If it vanishes or becomes unreadable, :class:`RootUnavailable`
  is reported, nothing is deleted, and the root is polled until it is back; then the watch is
  re-armed, the tree is scanned again and the differences are reported as ordinary events after
  :class:`RootAvailable`. A root replaced under the watcher (another device or inode at its path: an
  unmount, a remount) is re-armed and rescanned at once. A rescan that finds the root empty when the
  picture had files counts as unavailable (an empty mount point), unless
  ``allow_empty_root_deletion`` is set.
- Nothing inside the watcher ends it silently: an error in a pass is logged and the next pass runs;
  a watch that stops (inotify limits, a vanished root) is started again, by polling if inotify
  cannot be set up.

The filesystem work of a pass runs in a worker thread; the event loop only moves batches around.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
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

from kartoteka.domain.gallery.changes import (
    DirectoryCreated,
    DirectoryDeleted,
    DirectoryMoved,
    FileCreated,
    FileDeleted,
    FileModified,
    FileMoved,
    GalleryChange,
    RootAvailable,
    RootUnavailable,
)
from kartoteka.domain.gallery.scan import ROOT_PATH, DirectoryScan, RootState, is_within, parent_of
from kartoteka.domain.gallery.selection import FileSelection
from kartoteka.infrastructure.config.gallery import GallerySettings
from kartoteka.infrastructure.watcher.scanner import ScanOptions, scan_root

log = logging.getLogger(__name__)

Batch = tuple[GalleryChange, ...]


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


@dataclass(frozen=True, slots=True)
class _Stat:
    size: int
    mtime_ns: int
    device: int
    inode: int

    @classmethod
    def of(cls, info: os.stat_result) -> _Stat:
        return cls(info.st_size, info.st_mtime_ns, info.st_dev, info.st_ino)


@dataclass(slots=True)
class _Arrival:
    """A file seen in a state not reported yet, waiting to settle."""

    stat: _Stat
    stable_since: float
    touched_at: float


@dataclass(slots=True)
class _NewDirectory:
    identity: tuple[int, int]
    since: float


class _Pump(enum.Enum):
    """What a pass asks the event loop to do with the OS watch."""

    KEEP = enum.auto()
    STOP = enum.auto()
    REARM = enum.auto()


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

        # The picture of the tree, as reported so far.
        self._files: dict[str, _Stat] = {}
        self._dirs: dict[str, tuple[int, int]] = {}
        self._children: dict[str, set[str]] = {}
        self._root_identity: tuple[int, int] | None = None
        self._armed_identity: tuple[int, int] | None = None

        # Work in progress.
        self._arrivals: dict[str, _Arrival] = {}
        self._gone: dict[str, float] = {}
        self._new_dirs: dict[str, _NewDirectory] = {}
        self._gone_dirs: dict[str, float] = {}

        self._available = False
        self._unavailable_reason = ""
        self._needs_rescan = False
        self._last_rescan = 0.0
        self._last_root_check = 0.0
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
        return self._available

    @property
    def unavailable_reason(self) -> str:
        """Why the root is unavailable; empty while it is available."""
        return self._unavailable_reason

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
        now = time.monotonic()
        if scan.root_ok:
            self._armed_identity = (scan.root_device or 0, scan.root_inode or 0)
            self._adopt(scan)
            self._available = True
            self._last_rescan = now
        else:
            reason = _root_reason(scan.state)
            self._go_unavailable(reason)
            self._out.put_nowait((RootUnavailable(reason),))
        self._last_root_check = now
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
                await asyncio.wait_for(self._wake.wait(), self._wait_s())
            self._wake.clear()
            if self._stopping:
                return
            raw, self._raw = self._raw, []
            pump_alive = self._pump_task is not None and not self._pump_task.done()
            try:
                batch, pump = await asyncio.to_thread(self._pass, raw, time.monotonic(), pump_alive)
                await self._handle_pump(pump)
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("watcher pass failed for %s; carrying on", self._root)
                # Do not spin on a persistent failure; do not give up either.
                await asyncio.sleep(min(self._options.root_check_ms / 1000 * failures, 30.0))
                continue
            failures = 0
            if batch:
                self._out.put_nowait(batch)

    def _wait_s(self) -> float:
        if self._needs_rescan:
            return 0.0
        if self._available and (self._arrivals or self._gone or self._new_dirs or self._gone_dirs):
            return self._options.tick_s
        return self._options.root_check_ms / 1000

    async def _handle_pump(self, pump: _Pump) -> None:
        if pump is _Pump.STOP:
            await self._stop_pump()
        elif pump is _Pump.REARM:
            await self._stop_pump()
            self._start_pump()
            await asyncio.sleep(0)
            self._needs_rescan = True
            self._wake.set()
        elif self._available and self._pump_task is not None and self._pump_task.done():
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
        self._needs_rescan = True
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

    def _pass(self, raw: list[set[tuple[Change, str]]], now: float, pump_alive: bool) -> tuple[Batch, _Pump]:
        if not self._available:
            return self._pass_while_away(now, pump_alive)
        identity, reason = self._stat_root()
        if identity is None:
            self._go_unavailable(reason)
            return (RootUnavailable(reason),), _Pump.STOP
        if identity != self._root_identity:
            # Unmounted, remounted, or removed and made again: the OS watch is on the old directory.
            log.warning("another directory is at the root %s now; watching it afresh", self._root)
            self._root_identity = self._armed_identity = identity
            return (), _Pump.REARM

        interval = self._options.rescan_interval_s
        if interval > 0 and now - self._last_rescan >= interval:
            self._needs_rescan = True
        if self._needs_rescan:
            outcome = self._rescan(now)
            if outcome is not None:
                return outcome
        for path in self._hinted_paths(raw):
            self._examine(path, now)
        self._recheck_arrivals(now)
        return tuple(self._settle(now)), _Pump.KEEP

    def _pass_while_away(self, now: float, pump_alive: bool) -> tuple[Batch, _Pump]:
        """Poll the root; once it is a directory again, arm the watch, then (next pass) rescan."""
        if not self._needs_rescan and now - self._last_root_check < self._options.root_check_ms / 1000:
            return (), _Pump.KEEP
        self._last_root_check = now
        identity, _ = self._stat_root()
        if identity is None:
            self._needs_rescan = False
            return (), _Pump.KEEP
        if not pump_alive or identity != self._armed_identity:
            self._armed_identity = identity
            return (), _Pump.REARM
        outcome = self._rescan(now)
        return outcome if outcome is not None else ((), _Pump.KEEP)

    def _stat_root(self) -> tuple[tuple[int, int] | None, str]:
        """The root's (device, inode), or None and why it cannot be used."""
        try:
            info = os.stat(self._root)
        except FileNotFoundError:
            return None, "the root directory does not exist"
        except OSError as exc:
            return None, f"the root directory cannot be read: {exc.strerror or exc}"
        if not stat.S_ISDIR(info.st_mode):
            return None, "the root is not a directory"
        if not os.access(self._root, os.R_OK | os.X_OK):
            return None, "the root directory cannot be read: permission denied"
        return (info.st_dev, info.st_ino), ""

    def _rescan(self, now: float) -> tuple[Batch, _Pump] | None:
        """Compare a full scan with the picture; None when the differences were queued as work.

        Returns a batch of its own when the scan shows the root is not usable (yet).
        """
        self._needs_rescan = False
        self._last_rescan = now
        scan = scan_root(self._root, self._options.scan_options)
        if not scan.root_ok:
            reason = _root_reason(scan.state)
            if self._available:
                self._go_unavailable(reason)
                return (RootUnavailable(reason),), _Pump.STOP
            return (), _Pump.KEEP
        if self._files and not scan.files and not self._options.allow_empty_root_deletion:
            reason = "the root is empty but had images: it looks unmounted"
            if self._available:
                self._go_unavailable(reason)
                return (RootUnavailable(reason),), _Pump.KEEP
            return (), _Pump.KEEP

        self._root_identity = (scan.root_device or 0, scan.root_inode or 0)
        was_away = not self._available
        self._available = True
        self._unavailable_reason = ""
        # What vanished while nobody watched is decided now: no notification will pair it later.
        self._resync(scan, ROOT_PATH, now, gone_since=now - self._options.debounce_ms / 1000)

        if was_away:
            # Report the return first; the differences follow in this and later passes.
            self._recheck_arrivals(now)
            return (RootAvailable(), *self._settle(now)), _Pump.KEEP
        return None

    def _hinted_paths(self, raw: Iterable[set[tuple[Change, str]]]) -> list[str]:
        """Root-relative paths named by the notifications, without duplicates or excluded paths."""
        paths: set[str] = set()
        for changes in raw:
            for _, absolute in changes:
                relative = self._relative(absolute)
                if relative is None or relative == ROOT_PATH:
                    continue
                if self._options.selection.excludes(relative):
                    continue
                paths.add(relative)
        # Parents first, so a directory's fate is known before its entries are looked at.
        return sorted(paths, key=lambda p: (p.count("/"), p))

    def _relative(self, absolute: str) -> str | None:
        for prefix in self._prefixes:
            if absolute == prefix:
                return ROOT_PATH
            if absolute.startswith(prefix + os.sep):
                return absolute[len(prefix) + 1 :].replace(os.sep, "/")
        return None

    def _examine(self, path: str, now: float) -> None:
        """Look at one hinted path and record what it is now."""
        absolute = self._root / path
        try:
            info = os.stat(absolute) if self._options.follow_symlinks else os.lstat(absolute)
        except (FileNotFoundError, NotADirectoryError):
            self._vanish(path, now)
            return
        except OSError as exc:
            # Unreadable is not gone: leave the picture as it is.
            log.warning("cannot stat %s in %s: %s", path, self._root, exc)
            return
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            if path in self._files:
                self._vanish_file(path, now)
            # New, moved in, back within the debounce time, or removed and made anew — maybe under the
            # same inode number, which the filesystem reuses at once, so its identity proves nothing:
            # a notification about a directory always means looking inside it.
            self._discover(path, now)
        elif stat.S_ISREG(mode) and self._options.selection.has_image_name(path):
            if path in self._dirs or path in self._new_dirs:
                self._vanish(path, now)
            unknown = self._outermost_unknown_directory(path)
            if unknown is not None:
                # Its directory has not been seen yet (its notification may come later, or never, if
                # it was made before its watch): scan it, so it is reported before what it holds.
                self._discover(unknown, now)
                return
            self._observe(path, _Stat.of(info), now)
        else:
            # A symlink not followed, a FIFO, a file that is no image (or no longer one after a rename).
            self._vanish(path, now)

    def _outermost_unknown_directory(self, path: str) -> str | None:
        unknown = None
        directory = parent_of(path)
        while directory != ROOT_PATH and directory not in self._dirs and directory not in self._new_dirs:
            unknown = directory
            directory = parent_of(directory)
        return unknown

    def _discover(self, path: str, now: float) -> None:
        """Scan a directory a notification named: inotify lists none of what a new directory holds."""
        scan = scan_root(self._root, self._options.scan_options, start=path)
        if scan.state is RootState.MISSING:
            self._vanish(path, now)
        elif scan.root_ok:
            for problem in scan.problems:
                log.warning("in %s: %s %s %s", self._root, problem.path, problem.kind.value, problem.detail)
            self._resync(scan, path, now, gone_since=now)

    def _resync(self, scan: DirectoryScan, within: str, now: float, gone_since: float) -> None:
        """Bring the picture of ``within`` (the root, or one directory) in line with a scan of it.

        Files and directories the scan lists are observed; those the picture has there and the scan
        does not are gone (since ``gone_since``), except below entries the scan could not read.
        """
        unverified = {p.path for p in scan.problems if p.kind.leaves_file_unverified}
        hidden = {p.path for p in scan.problems if p.kind.hides_subtree}

        def protected(path: str) -> bool:
            return path in unverified or any(a in hidden for a in _ancestors(path))

        seen_files: set[str] = set()
        for scanned in scan.files:
            seen_files.add(scanned.path)
            self._observe(scanned.path, _Stat(scanned.size, scanned.mtime_ns, scanned.device, scanned.inode), now)
        seen_dirs: set[str] = set()
        for directory in scan.directories:
            if directory.path == ROOT_PATH:
                continue
            seen_dirs.add(directory.path)
            identity = (directory.device, directory.inode)
            known = self._dirs.get(directory.path)
            if known == identity:
                self._gone_dirs.pop(directory.path, None)
                self._new_dirs.pop(directory.path, None)
                continue
            if known is not None:
                self._gone_dirs.setdefault(directory.path, gone_since)
            pending = self._new_dirs.get(directory.path)
            if pending is None or pending.identity != identity:
                self._new_dirs[directory.path] = _NewDirectory(identity, now)

        if within == ROOT_PATH:
            known_dirs, known_files = list(self._dirs), list(self._files)
        elif within in self._dirs:
            subtree = list(self._subtree(within))
            known_dirs = [directory for directory, _ in subtree]
            known_files = [file for _, files in subtree for file in files]
        else:
            known_dirs, known_files = [], []
        for path in known_files:
            if path not in seen_files and not protected(path):
                self._arrivals.pop(path, None)
                self._gone.setdefault(path, gone_since)
        for path in known_dirs:
            if path not in seen_dirs and not protected(path):
                self._gone_dirs.setdefault(path, gone_since)

    def _observe(self, path: str, observed: _Stat, now: float) -> None:
        self._gone.pop(path, None)
        arrival = self._arrivals.get(path)
        if arrival is None:
            if self._files.get(path) == observed:
                return  # a notification that changed nothing we report (an open, a chmod)
            self._arrivals[path] = _Arrival(observed, now, now)
            return
        if arrival.stat != observed:
            arrival.stat = observed
            arrival.stable_since = now
        arrival.touched_at = now

    def _vanish(self, path: str, now: float) -> None:
        """Nothing (usable) is at ``path`` now: whatever the picture had there and below is gone."""
        self._vanish_file(path, now)
        if self._new_dirs:
            for candidate in [p for p in self._new_dirs if p == path or p.startswith(path + "/")]:
                del self._new_dirs[candidate]
        if self._arrivals:
            for candidate in [p for p in self._arrivals if p.startswith(path + "/")]:
                del self._arrivals[candidate]
        if path in self._dirs:
            for directory, files in self._subtree(path):
                self._gone_dirs.setdefault(directory, now)
                for file in files:
                    self._gone.setdefault(file, now)

    def _vanish_file(self, path: str, now: float) -> None:
        self._arrivals.pop(path, None)
        if path in self._files:
            self._gone.setdefault(path, now)

    def _recheck_arrivals(self, now: float) -> None:
        """A file about to be reported is ``stat``-ed once more: unchanged since the last look, it is done.

        Between looks, every write notifies and resets the file's stability clock (see ``_observe``);
        this last look catches a write whose notification was lost or not yet delivered, so a file is
        reported only when its size and mtime at the end equal those ``stable_after_ms`` earlier.
        Only files that are due are looked at, so a copy of 100 000 files costs no 100 000 stats a pass.
        """
        for path in [p for p, a in self._arrivals.items() if self._due(a, now)]:
            arrival = self._arrivals.get(path)
            if arrival is None:
                continue
            try:
                info = os.stat(self._root / path) if self._options.follow_symlinks else os.lstat(self._root / path)
            except (FileNotFoundError, NotADirectoryError):
                self._vanish(path, now)
                continue
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                self._vanish(path, now)
                continue
            observed = _Stat.of(info)
            if observed != arrival.stat:
                arrival.stat = observed
                arrival.stable_since = now

    def _due(self, arrival: _Arrival, now: float) -> bool:
        return (
            now - arrival.stable_since >= self._options.stable_after_ms / 1000
            and now - arrival.touched_at >= self._options.debounce_ms / 1000
        )

    def _settle(self, now: float) -> list[GalleryChange]:
        """Decide what can be reported now, update the picture, and return it in applying order."""
        had_files: set[str] = set()
        had_arrivals: set[str] = set()
        if self._gone_dirs and self._new_dirs:  # only a directory rename needs them
            had_files = {a for p in self._gone for a in _ancestors(p)}
            had_arrivals = {a for p in self._arrivals if p not in self._files for a in _ancestors(p)}
        file_moves = self._pair_files()
        dir_moves = self._pair_directories(file_moves, had_files, had_arrivals)

        debounce = self._options.debounce_ms / 1000
        created_dirs: list[str] = []
        for move in file_moves:
            # A file moved into a directory that is new itself: the directory goes first, now.
            for directory in _ancestors(move.new_path):
                if directory in self._new_dirs:
                    self._promote(directory, created_dirs)
        for path in sorted(p for p, new in self._new_dirs.items() if now - new.since >= debounce):
            self._promote(path, created_dirs)
        deleted = sorted(p for p, since in self._gone.items() if now - since >= debounce)
        for path in deleted:
            del self._gone[path]
            self._remove_file(path)
        modified: list[FileModified] = []
        created: list[FileCreated] = []
        for path in sorted(p for p, a in self._arrivals.items() if self._due(a, now)):
            arrival = self._arrivals[path]
            if _has_new_dir_above(path, self._new_dirs):
                continue  # its directory is reported first
            del self._arrivals[path]
            observed = arrival.stat
            before = self._files.get(path)
            self._add_file(path, observed)
            if before is None:
                created.append(FileCreated(path, observed.size, observed.mtime_ns))
            elif before != observed:
                modified.append(FileModified(path, observed.size, observed.mtime_ns))
        deleted_dirs: list[str] = []
        still_going = {ancestor for p in self._gone for ancestor in _ancestors(p)} if self._gone_dirs else set()
        for path, since in sorted(self._gone_dirs.items()):
            # A directory that is there again under another inode (removed and made anew) is left to
            # its new self (see _promote); one with vanished files below waits for their deletion.
            if now - since >= debounce and path not in still_going and path not in self._new_dirs:
                del self._gone_dirs[path]
                self._remove_dir(path)
                deleted_dirs.append(path)

        # A directory made inside a moved one exists, for the index, only once the move is applied.
        targets = [new for _, new in dir_moves]
        inside = {p for p in created_dirs if any(is_within(p, t) for t in targets)}
        batch: list[GalleryChange] = [
            DirectoryCreated(p) for p in sorted(created_dirs, key=_depth_first) if p not in inside
        ]
        batch += [DirectoryMoved(old, new) for old, new in dir_moves]
        batch += [DirectoryCreated(p) for p in sorted(inside, key=_depth_first)]
        batch += [FileDeleted(p) for p in deleted]
        batch += file_moves
        batch += modified
        batch += created
        batch += [DirectoryDeleted(p) for p in _outermost(deleted_dirs)]
        return batch

    def _promote(self, path: str, created: list[str]) -> None:
        """A new directory enters the picture; it is reported unless one was at its path already."""
        new = self._new_dirs.pop(path, None)
        if new is None:
            return
        replaced = self._gone_dirs.pop(path, None) is not None
        self._add_dir(path, new.identity)
        if not replaced:
            created.append(path)

    def _pair_files(self) -> list[FileMoved]:
        """A vanished file and a new path with its (device, inode, size, mtime): a rename, one id."""
        if not self._gone or not self._arrivals:
            return []
        candidates: dict[_Stat, list[str]] = {}
        for path in sorted(self._gone):
            candidates.setdefault(self._files[path], []).append(path)
        moves: list[FileMoved] = []
        # An existing path that changed is a modification, never a move target.
        matching = sorted(p for p, a in self._arrivals.items() if a.stat in candidates and p not in self._files)
        for path in matching:
            arrival = self._arrivals[path]
            olds = candidates.get(arrival.stat)
            if not olds:
                continue
            old = olds.pop(0)
            del self._gone[old]
            del self._arrivals[path]
            self._remove_file(old)
            self._add_file(path, arrival.stat)
            moves.append(FileMoved(old, path, arrival.stat.size, arrival.stat.mtime_ns))
        return moves

    def _pair_directories(
        self, file_moves: list[FileMoved], had_files: set[str], had_arrivals: set[str]
    ) -> list[tuple[str, str]]:
        """A vanished directory and a new one with its (device, inode): a renamed directory.

        Inode numbers are reused at once, so the identity alone does not prove a rename (``rm -r a;
        mkdir b`` gives ``b`` the inode of ``a``). A pair is taken when a file moved between them
        under the same relative path, when it follows from a parent's rename, or when both hold no
        image. Returns the moves as the index sees them: an old path below a directory moved in this
        batch is given under that directory's new path. Subdirectories that moved with their parent
        are not listed (they follow from it); vanished ones below a moved directory are re-filed
        under its new path, so their deletion names a path the index has.
        """
        if not self._gone_dirs or not self._new_dirs:
            return []
        new_by_identity: dict[tuple[int, int], str] = {}
        for path in sorted(self._new_dirs, key=_depth_first):
            new_by_identity.setdefault(self._new_dirs[path].identity, path)
        evidence: set[tuple[str, str]] = set()
        for move in file_moves:
            before, after = parent_of(move.old_path), parent_of(move.new_path)
            while before != ROOT_PATH and after != ROOT_PATH:
                evidence.add((before, after))
                if _name(before) != _name(after):
                    break
                before, after = parent_of(before), parent_of(after)

        accepted: list[tuple[str, str]] = []
        emitted: list[tuple[str, str]] = []
        for old in sorted(self._gone_dirs, key=_depth_first):
            identity = self._dirs.get(old)
            new = new_by_identity.get(identity) if identity is not None else None
            if identity is None or new is None:
                continue
            seen_as = _map_path(old, accepted)
            implied = seen_as == new
            empty = old not in had_files and new not in had_arrivals
            if not (implied or (old, new) in evidence or empty):
                continue
            del new_by_identity[identity]
            del self._new_dirs[new]
            del self._gone_dirs[old]
            self._gone_dirs.pop(new, None)  # an empty directory the rename replaced
            self._remove_dir(old)
            self._add_dir(new, identity)
            accepted.append((old, new))
            if not implied:
                emitted.append((seen_as, new))
        if accepted:
            for old in [p for p in self._gone_dirs if _map_path(p, accepted) != p]:
                since = self._gone_dirs.pop(old)
                identity = self._dirs.get(old)
                self._remove_dir(old)
                refiled = _map_path(old, accepted)
                if identity is not None and refiled not in self._dirs:
                    self._add_dir(refiled, identity)
                self._gone_dirs.setdefault(refiled, since)
        return emitted

    # --- the picture -------------------------------------------------------------------------------

    def _adopt(self, scan: DirectoryScan) -> None:
        self._files.clear()
        self._dirs.clear()
        self._children.clear()
        self._root_identity = (scan.root_device or 0, scan.root_inode or 0)
        for directory in scan.directories:
            if directory.path != ROOT_PATH:
                self._add_dir(directory.path, (directory.device, directory.inode))
        for file in scan.files:
            self._add_file(file.path, _Stat(file.size, file.mtime_ns, file.device, file.inode))

    def _add_file(self, path: str, observed: _Stat) -> None:
        self._files[path] = observed
        self._children.setdefault(parent_of(path), set()).add(path)

    def _remove_file(self, path: str) -> None:
        if self._files.pop(path, None) is not None:
            self._unlink_child(path)

    def _add_dir(self, path: str, identity: tuple[int, int]) -> None:
        self._dirs[path] = identity
        self._children.setdefault(parent_of(path), set()).add(path)

    def _remove_dir(self, path: str) -> None:
        if self._dirs.pop(path, None) is not None:
            self._unlink_child(path)

    def _unlink_child(self, path: str) -> None:
        siblings = self._children.get(parent_of(path))
        if siblings is not None:
            siblings.discard(path)
            if not siblings:
                del self._children[parent_of(path)]

    def _subtree(self, path: str) -> Iterable[tuple[str, list[str]]]:
        """Each known directory at and below ``path`` with the known files directly in it."""
        stack = [path]
        while stack:
            directory = stack.pop()
            files: list[str] = []
            for child in self._children.get(directory, ()):
                if child in self._dirs:
                    stack.append(child)
                elif child in self._files:
                    files.append(child)
            yield directory, files

    def _go_unavailable(self, reason: str) -> None:
        """Forget the work in progress (no deletion may come of it) and wait for the root."""
        log.warning("gallery root %s is unavailable: %s; nothing is deleted, waiting for it", self._root, reason)
        self._available = False
        self._unavailable_reason = reason
        self._arrivals.clear()
        self._gone.clear()
        self._new_dirs.clear()
        self._gone_dirs.clear()
        self._needs_rescan = False


def _root_reason(state: RootState) -> str:
    return {
        RootState.OK: "",
        RootState.MISSING: "the root directory does not exist",
        RootState.NOT_A_DIRECTORY: "the root is not a directory",
        RootState.UNREADABLE: "the root directory cannot be read",
    }[state]


def _ancestors(path: str) -> Iterable[str]:
    directory = parent_of(path)
    while directory != ROOT_PATH:
        yield directory
        directory = parent_of(directory)


def _depth_first(path: str) -> tuple[int, str]:
    return path.count("/"), path


def _has_new_dir_above(path: str, new_dirs: dict[str, _NewDirectory]) -> bool:
    if not new_dirs:
        return False
    directory = parent_of(path)
    while directory != ROOT_PATH:
        if directory in new_dirs:
            return True
        directory = parent_of(directory)
    return False


def _outermost(paths: list[str]) -> list[str]:
    """Drop the paths that lie under another path of the list (a subtree is one event)."""
    kept: list[str] = []
    for path in sorted(paths, key=_depth_first):
        if not any(path.startswith(k + "/") for k in kept):
            kept.append(path)
    return sorted(kept)


def _map_path(path: str, moves: list[tuple[str, str]]) -> str:
    """Where ``path`` is once the directory moves (old, new) are applied (the deepest one that applies)."""
    for old, new in reversed(moves):
        if is_within(path, old):
            return new + path[len(old) :]
    return path


def _name(path: str) -> str:
    return path.rpartition("/")[2]
