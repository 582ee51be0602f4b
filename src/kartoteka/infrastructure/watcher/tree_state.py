"""The watcher's picture of one root, and the rules that turn what is seen there into changes.

``watchfiles`` says only that *something* happened at a path (see :mod:`.fs_watcher`), so a
notification is a hint of *where to look*; this module decides what the looks mean. It touches no
filesystem and reads no clock: the caller stats and scans, and hands over the facts (a
:data:`PathFact` per path, a :class:`DirectoryScan` per directory, the root's identity) and the
time ``now`` (seconds, any monotonic origin). The rules:

- The picture is the image files reported so far, with size, mtime and (device, inode), and the
  directories; it starts from a scan made *after* the notifications were armed, so nothing falls
  between the scan and the watch.
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

One pass, as the caller runs it (each step takes the facts the previous one asked for)::

    if tree.begin_pass(now):
        outcome = tree.root_seen(identity_or_RootGone, watch_alive)
        if outcome is None and tree.rescan_due(now):
            outcome = tree.rescanned(scan_of_the_root, now)
        if outcome is None:
            for path in tree.hinted(notified_paths):
                directory = tree.examined(path, fact_at(path), now)
                if directory is not None:
                    tree.discovered(directory, scan_of(directory), now)
            for path in tree.due(now):
                tree.rechecked(path, fact_at(path), now)
            outcome = tree.settle(now)
    # report outcome.changes; do outcome.watch to the OS watch; next pass in tree.next_pass_in()
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from kartoteka.domain.gallery.changes import (
    DirectoryCreated,
    DirectoryDeleted,
    DirectoryMoved,
    FileCreated,
    FileDeleted,
    FileModified,
    GalleryChange,
    RootAvailable,
    RootUnavailable,
)
from kartoteka.domain.gallery.scan import ROOT_PATH, DirectoryScan, RootState, is_within, parent_of
from kartoteka.domain.gallery.selection import FileSelection
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
from kartoteka.infrastructure.watcher.tree_picture import (
    Arrival,
    NewDirectory,
    Picture,
    ancestors,
    depth_first,
    has_new_dir_above,
    outermost,
)
from kartoteka.infrastructure.watcher.tree_renames import pair_directories, pair_files

log = logging.getLogger(__name__)

EMPTY_ROOT_REASON = "the root is empty but had images: it looks unmounted"


@dataclass(frozen=True, slots=True)
class TreeRules:
    """The rules' parameters: what is an image, and how long things must settle (see the module)."""

    selection: FileSelection = field(default_factory=FileSelection)
    debounce_ms: int = 500
    stable_after_ms: int = 1000
    allow_empty_root_deletion: bool = False
    rescan_interval_s: float = 0.0
    root_check_ms: int = 1000
    tick_s: float = 0.25


def root_reason(state: RootState) -> str:
    return {
        RootState.OK: "",
        RootState.MISSING: "the root directory does not exist",
        RootState.NOT_A_DIRECTORY: "the root is not a directory",
        RootState.UNREADABLE: "the root directory cannot be read",
    }[state]


class TreeState:
    """The picture of one root and the work in progress on it; fed facts, it returns changes.

    ``label`` names the root in log messages.
    """

    def __init__(self, rules: TreeRules | None = None, label: str = "the root") -> None:
        self._rules = rules or TreeRules()
        self._label = label
        self._picture = Picture()
        self._root_identity: Identity | None = None
        self._armed_identity: Identity | None = None

        # Work in progress.
        self._arrivals: dict[str, Arrival] = {}
        self._gone: dict[str, float] = {}
        self._new_dirs: dict[str, NewDirectory] = {}
        self._gone_dirs: dict[str, float] = {}

        self._available = False
        self._unavailable_reason = ""
        self._needs_rescan = False
        self._last_rescan = 0.0
        self._last_root_check = 0.0
        self._away_pass = False

    @property
    def available(self) -> bool:
        """False while the root is missing, unreadable or looks unmounted."""
        return self._available

    @property
    def unavailable_reason(self) -> str:
        return self._unavailable_reason

    @property
    def files(self) -> dict[str, FileStat]:
        """The image files as reported so far (a copy)."""
        return dict(self._picture.files)

    @property
    def directories(self) -> dict[str, Identity]:
        """The directories as reported so far, root excluded (a copy)."""
        return dict(self._picture.dirs)

    # --- the pass ----------------------------------------------------------------------------------

    def start(self, scan: DirectoryScan, now: float) -> Batch:
        """Take the first scan (made once the watch was armed) as the picture; a batch when the root is away."""
        batch: Batch = ()
        if scan.root_ok:
            self._armed_identity = (scan.root_device or 0, scan.root_inode or 0)
            self._adopt(scan)
            self._available = True
            self._last_rescan = now
        else:
            reason = root_reason(scan.state)
            self._go_unavailable(reason)
            batch = (RootUnavailable(reason),)
        self._last_root_check = now
        return batch

    def next_pass_in(self) -> float:
        """Seconds until the next pass is due even if no notification comes."""
        if self._needs_rescan:
            return 0.0
        if self._available and (self._arrivals or self._gone or self._new_dirs or self._gone_dirs):
            return self._rules.tick_s
        return self._rules.root_check_ms / 1000

    def rescan_soon(self) -> None:
        """The watch was (re)armed: the next pass compares a full scan with the picture."""
        self._needs_rescan = True

    def begin_pass(self, now: float) -> bool:
        """Start a pass; False when there is nothing to look at (the root is away and not due a poll)."""
        self._away_pass = False
        if self._available:
            return True
        if not self._needs_rescan and now - self._last_root_check < self._rules.root_check_ms / 1000:
            return False
        self._last_root_check = now
        self._away_pass = True
        return True

    def root_seen(self, root: Identity | RootGone, watch_alive: bool) -> Outcome | None:
        """The root's (device, inode) or why it is unusable; an outcome ends the pass, None goes on."""
        if self._away_pass:
            if isinstance(root, RootGone):
                self._needs_rescan = False
                return QUIET
            if not watch_alive or root != self._armed_identity:
                self._armed_identity = root
                return Outcome((), Watch.REARM)
            return None  # there again, and watched: rescan
        if isinstance(root, RootGone):
            self._go_unavailable(root.reason)
            return Outcome((RootUnavailable(root.reason),), Watch.STOP)
        if root != self._root_identity:
            # Unmounted, remounted, or removed and made again: the OS watch is on the old directory.
            log.warning("another directory is at the root %s now; watching it afresh", self._label)
            self._root_identity = self._armed_identity = root
            return Outcome((), Watch.REARM)
        return None

    def rescan_due(self, now: float) -> bool:
        """True when this pass needs a full scan of the root (pass it to :meth:`rescanned`)."""
        if self._away_pass:
            return True
        interval = self._rules.rescan_interval_s
        if interval > 0 and now - self._last_rescan >= interval:
            self._needs_rescan = True
        return self._needs_rescan

    def rescanned(self, scan: DirectoryScan, now: float) -> Outcome | None:
        """Compare a full scan with the picture; an outcome when the root is not usable (yet), else None."""
        self._needs_rescan = False
        self._last_rescan = now
        if not scan.root_ok:
            reason = root_reason(scan.state)
            if self._available:
                self._go_unavailable(reason)
                return Outcome((RootUnavailable(reason),), Watch.STOP)
            return QUIET
        if self._picture.files and not scan.files and not self._rules.allow_empty_root_deletion:
            if self._available:
                self._go_unavailable(EMPTY_ROOT_REASON)
                return Outcome((RootUnavailable(EMPTY_ROOT_REASON),), Watch.KEEP)
            return QUIET

        self._root_identity = (scan.root_device or 0, scan.root_inode or 0)
        self._available = True
        self._unavailable_reason = ""
        # What vanished while nobody watched is decided now: no notification will pair it later.
        self._resync(scan, ROOT_PATH, now, gone_since=now - self._rules.debounce_ms / 1000)
        return None

    def hinted(self, paths: Iterable[str]) -> list[str]:
        """The root-relative paths notifications named that are worth a look, parents first.

        None after the root came back: the rescan has covered them.
        """
        if self._away_pass:
            return []
        selection = self._rules.selection
        wanted = {p for p in paths if p != ROOT_PATH and not selection.excludes(p)}
        # Parents first, so a directory's fate is known before its entries are looked at.
        return sorted(wanted, key=depth_first)

    def examined(self, path: str, fact: PathFact, now: float) -> str | None:
        """Record what is at a hinted path now; returns a directory to scan (for :meth:`discovered`), if any."""
        match fact:
            case Found.NOTHING:
                self._vanish(path, now)
            case Unreadable(reason):
                log.warning("cannot stat %s in %s: %s", path, self._label, reason)  # leave the picture as it is
            case Found.DIRECTORY:
                if path in self._picture.files:
                    self._vanish_file(path, now)
                # New, moved in, back within the debounce time, or removed and made anew — maybe under
                # the same inode number, which the filesystem reuses at once, so its identity proves
                # nothing: a notification about a directory always means looking inside it.
                return path
            case FileStat() if self._rules.selection.has_image_name(path):
                if path in self._picture.dirs or path in self._new_dirs:
                    self._vanish(path, now)
                unknown = self._outermost_unknown_directory(path)
                if unknown is not None:
                    # Its directory has not been seen yet (its notification may come later, or never, if
                    # it was made before its watch): scan it, so it is reported before what it holds.
                    return unknown
                self._observe(path, fact, now)
            case _:
                # A symlink not followed, a FIFO, a file that is no image (or no longer one after a rename).
                self._vanish(path, now)
        return None

    def discovered(self, path: str, scan: DirectoryScan, now: float) -> None:
        """A scan of a directory :meth:`examined` asked for: inotify lists none of what a new one holds."""
        if scan.state is RootState.MISSING:
            self._vanish(path, now)
        elif scan.root_ok:
            for problem in scan.problems:
                log.warning("in %s: %s %s %s", self._label, problem.path, problem.kind.value, problem.detail)
            self._resync(scan, path, now, gone_since=now)

    def due(self, now: float) -> Iterator[str]:
        """The files about to be reported: ``stat`` each once more and pass it to :meth:`rechecked`.

        Between looks, every write notifies and resets the file's stability clock (see
        ``_observe``); this last look catches a write whose notification was lost or not yet
        delivered, so a file is reported only when its size and mtime at the end equal those
        ``stable_after_ms`` earlier. Only files that are due are listed, so a copy of 100 000 files
        costs no 100 000 stats a pass. Lazy: a path the previous recheck settled is skipped.
        """
        for path in [p for p, a in self._arrivals.items() if self._due(a, now)]:
            if path in self._arrivals:
                yield path

    def rechecked(self, path: str, fact: PathFact, now: float) -> None:
        arrival = self._arrivals.get(path)
        if arrival is None:
            return
        match fact:
            case FileStat():
                if fact != arrival.stat:
                    arrival.stat = fact
                    arrival.stable_since = now
            case Unreadable():
                pass
            case _:
                self._vanish(path, now)

    def settle(self, now: float) -> Outcome:
        """Decide what can be reported now; after the root's return, :class:`RootAvailable` comes first."""
        changes = self._settle(now)
        if self._away_pass:
            self._away_pass = False
            return Outcome((RootAvailable(), *changes), Watch.KEEP)
        return Outcome(tuple(changes), Watch.KEEP)

    # --- what a look means -------------------------------------------------------------------------

    def _outermost_unknown_directory(self, path: str) -> str | None:
        unknown = None
        directory = parent_of(path)
        while directory != ROOT_PATH and directory not in self._picture.dirs and directory not in self._new_dirs:
            unknown = directory
            directory = parent_of(directory)
        return unknown

    def _resync(self, scan: DirectoryScan, within: str, now: float, gone_since: float) -> None:
        """Bring the picture of ``within`` (the root, or one directory) in line with a scan of it.

        Files and directories the scan lists are observed; those the picture has there and the scan
        does not are gone (since ``gone_since``), except below entries the scan could not read.
        """
        unverified = {p.path for p in scan.problems if p.kind.leaves_file_unverified}
        hidden = {p.path for p in scan.problems if p.kind.hides_subtree}

        def protected(path: str) -> bool:
            return path in unverified or any(a in hidden for a in ancestors(path))

        picture = self._picture
        seen_files: set[str] = set()
        for scanned in scan.files:
            seen_files.add(scanned.path)
            self._observe(scanned.path, FileStat(scanned.size, scanned.mtime_ns, scanned.device, scanned.inode), now)
        seen_dirs: set[str] = set()
        for directory in scan.directories:
            if directory.path == ROOT_PATH:
                continue
            seen_dirs.add(directory.path)
            identity = (directory.device, directory.inode)
            known = picture.dirs.get(directory.path)
            if known == identity:
                self._gone_dirs.pop(directory.path, None)
                self._new_dirs.pop(directory.path, None)
                continue
            if known is not None:
                self._gone_dirs.setdefault(directory.path, gone_since)
            pending = self._new_dirs.get(directory.path)
            if pending is None or pending.identity != identity:
                self._new_dirs[directory.path] = NewDirectory(identity, now)

        if within == ROOT_PATH:
            known_dirs, known_files = list(picture.dirs), list(picture.files)
        elif within in picture.dirs:
            subtree = list(picture.subtree(within))
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

    def _observe(self, path: str, observed: FileStat, now: float) -> None:
        self._gone.pop(path, None)
        arrival = self._arrivals.get(path)
        if arrival is None:
            if self._picture.files.get(path) == observed:
                return  # a notification that changed nothing we report (an open, a chmod)
            self._arrivals[path] = Arrival(observed, now, now)
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
        if path in self._picture.dirs:
            for directory, files in self._picture.subtree(path):
                self._gone_dirs.setdefault(directory, now)
                for file in files:
                    self._gone.setdefault(file, now)

    def _vanish_file(self, path: str, now: float) -> None:
        self._arrivals.pop(path, None)
        if path in self._picture.files:
            self._gone.setdefault(path, now)

    def _due(self, arrival: Arrival, now: float) -> bool:
        return (
            now - arrival.stable_since >= self._rules.stable_after_ms / 1000
            and now - arrival.touched_at >= self._rules.debounce_ms / 1000
        )

    # --- what can be reported ----------------------------------------------------------------------

    def _settle(self, now: float) -> list[GalleryChange]:
        """Decide what can be reported now, update the picture, and return it in applying order."""
        picture = self._picture
        had_files: set[str] = set()
        had_arrivals: set[str] = set()
        if self._gone_dirs and self._new_dirs:  # only a directory rename needs them
            had_files = {a for p in self._gone for a in ancestors(p)}
            had_arrivals = {a for p in self._arrivals if p not in picture.files for a in ancestors(p)}
        file_moves = pair_files(picture, self._gone, self._arrivals)
        dir_moves = pair_directories(picture, self._gone_dirs, self._new_dirs, file_moves, had_files, had_arrivals)

        debounce = self._rules.debounce_ms / 1000
        created_dirs: list[str] = []
        for move in file_moves:
            # A file moved into a directory that is new itself: the directory goes first, now.
            for directory in ancestors(move.new_path):
                if directory in self._new_dirs:
                    self._promote(directory, created_dirs)
        for path in sorted(p for p, new in self._new_dirs.items() if now - new.since >= debounce):
            self._promote(path, created_dirs)
        deleted = sorted(p for p, since in self._gone.items() if now - since >= debounce)
        for path in deleted:
            del self._gone[path]
            picture.remove_file(path)
        modified: list[FileModified] = []
        created: list[FileCreated] = []
        for path in sorted(p for p, a in self._arrivals.items() if self._due(a, now)):
            arrival = self._arrivals[path]
            if has_new_dir_above(path, self._new_dirs):
                continue  # its directory is reported first
            del self._arrivals[path]
            observed = arrival.stat
            before = picture.files.get(path)
            picture.add_file(path, observed)
            if before is None:
                created.append(FileCreated(path, observed.size, observed.mtime_ns))
            elif before != observed:
                modified.append(FileModified(path, observed.size, observed.mtime_ns))
        deleted_dirs: list[str] = []
        still_going = {ancestor for p in self._gone for ancestor in ancestors(p)} if self._gone_dirs else set()
        for path, since in sorted(self._gone_dirs.items()):
            # A directory that is there again under another inode (removed and made anew) is left to
            # its new self (see _promote); one with vanished files below waits for their deletion.
            if now - since >= debounce and path not in still_going and path not in self._new_dirs:
                del self._gone_dirs[path]
                picture.remove_dir(path)
                deleted_dirs.append(path)

        # A directory made inside a moved one exists, for the index, only once the move is applied.
        targets = [new for _, new in dir_moves]
        inside = {p for p in created_dirs if any(is_within(p, t) for t in targets)}
        batch: list[GalleryChange] = [
            DirectoryCreated(p) for p in sorted(created_dirs, key=depth_first) if p not in inside
        ]
        batch += [DirectoryMoved(old, new) for old, new in dir_moves]
        batch += [DirectoryCreated(p) for p in sorted(inside, key=depth_first)]
        batch += [FileDeleted(p) for p in deleted]
        batch += file_moves
        batch += modified
        batch += created
        batch += [DirectoryDeleted(p) for p in outermost(deleted_dirs)]
        return batch

    def _promote(self, path: str, created: list[str]) -> None:
        """A new directory enters the picture; it is reported unless one was at its path already."""
        new = self._new_dirs.pop(path, None)
        if new is None:
            return
        replaced = self._gone_dirs.pop(path, None) is not None
        self._picture.add_dir(path, new.identity)
        if not replaced:
            created.append(path)

    # --- the picture as a whole --------------------------------------------------------------------

    def _adopt(self, scan: DirectoryScan) -> None:
        self._picture.adopt(scan)
        self._root_identity = (scan.root_device or 0, scan.root_inode or 0)

    def _go_unavailable(self, reason: str) -> None:
        """Forget the work in progress (no deletion may come of it) and wait for the root."""
        log.warning("gallery root %s is unavailable: %s; nothing is deleted, waiting for it", self._label, reason)
        self._available = False
        self._unavailable_reason = reason
        self._arrivals.clear()
        self._gone.clear()
        self._new_dirs.clear()
        self._gone_dirs.clear()
        self._needs_rescan = False
