"""The watcher's rules, on a tree held in memory, with time moved by hand.

``Disk`` answers as the watcher's ``stat`` and scan would, inodes included; ``Pump`` runs a pass the
way :class:`~kartoteka.infrastructure.watcher.fs_watcher.DirectoryWatcher` does, with the
notifications a test names (what inotify would have said) and the time the test sets. Nothing
touches a filesystem, and nothing sleeps.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path
from typing import TypeVar

import pytest

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
from kartoteka.domain.gallery.scan import (
    ROOT_PATH,
    DirectoryScan,
    RootState,
    ScannedDirectory,
    ScannedFile,
    is_within,
    parent_of,
)
from kartoteka.domain.gallery.selection import FileSelection
from kartoteka.infrastructure.watcher.tree_facts import (
    QUIET,
    FileStat,
    Found,
    Identity,
    Outcome,
    PathFact,
    RootGone,
    Unreadable,
    Watch,
)
from kartoteka.infrastructure.watcher.tree_state import EMPTY_ROOT_REASON, TreeRules, TreeState

RULES = TreeRules(debounce_ms=100, stable_after_ms=250, root_check_ms=100, tick_s=0.02)
DEVICE = 1
GONE_ROOT = "the root directory does not exist"

V = TypeVar("V")


class Disk:
    """A directory tree in memory: image files with their stat, directories with their identity."""

    def __init__(self) -> None:
        self.root: Identity | None = (DEVICE, 1)
        self.files: dict[str, FileStat] = {}
        self.dirs: dict[str, Identity] = {}
        self.unreadable: set[str] = set()
        self._inodes = itertools.count(100)

    def new_identity(self) -> Identity:
        return DEVICE, next(self._inodes)

    def mkdir(self, path: str, identity: Identity | None = None) -> None:
        if path == ROOT_PATH or path in self.dirs:
            return
        self.mkdir(parent_of(path))
        self.dirs[path] = identity or self.new_identity()

    def write(self, path: str, size: int, mtime_ns: int, inode: int | None = None) -> FileStat:
        """Create or rewrite a file (a rewrite keeps its inode), making the directories above it."""
        self.mkdir(parent_of(path))
        existing = self.files.get(path)
        number = inode or (existing.inode if existing else self.new_identity()[1])
        self.files[path] = FileStat(size, mtime_ns, DEVICE, number)
        return self.files[path]

    def remove(self, path: str) -> None:
        """``rm`` a file, or ``rm -r`` a directory."""
        for table in (self.files, self.dirs):
            for key in [k for k in table if is_within(k, path)]:
                del table[key]

    def rename(self, old: str, new: str) -> None:
        """``rename(2)``: the same inodes at the new path; a file there already is replaced."""
        self.mkdir(parent_of(new))
        _move_keys(self.files, old, new)
        _move_keys(self.dirs, old, new)

    def root_fact(self) -> Identity | RootGone:
        return self.root if self.root is not None else RootGone(GONE_ROOT)

    def stat(self, path: str) -> PathFact:
        if self.root is None or any(a not in self.dirs for a in _ancestors(path)):
            return Found.NOTHING
        if path in self.unreadable:
            return Unreadable("permission denied")
        if path in self.files:
            return self.files[path]
        if path in self.dirs:
            return Found.DIRECTORY
        return Found.NOTHING

    def scan(self, start: str = ROOT_PATH) -> DirectoryScan:
        if self.root is None:
            return DirectoryScan(RootState.MISSING)
        device, inode = self.root
        if start != ROOT_PATH and start not in self.dirs:
            return DirectoryScan(RootState.MISSING, root_device=device, root_inode=inode)
        top = self.root if start == ROOT_PATH else self.dirs[start]
        files = [
            ScannedFile(p, s.size, s.mtime_ns, s.device, s.inode)
            for p, s in sorted(self.files.items())
            if is_within(p, start) and p != start and FileSelection().has_image_name(p)
        ]
        dirs = [ScannedDirectory(start, 0, 0, *top)]
        below = [(p, i) for p, i in sorted(self.dirs.items()) if p != start and is_within(p, start)]
        dirs += [ScannedDirectory(p, 0, 0, *i) for p, i in below]
        return DirectoryScan(RootState.OK, tuple(files), tuple(dirs), root_device=device, root_inode=inode)


def _move_keys(table: dict[str, V], old: str, new: str) -> None:
    moving = {k: v for k, v in table.items() if is_within(k, old)}
    for key in moving:
        del table[key]
    for key, value in moving.items():
        table[new + key[len(old) :]] = value


def _ancestors(path: str) -> list[str]:
    found = []
    directory = parent_of(path)
    while directory != ROOT_PATH:
        found.append(directory)
        directory = parent_of(directory)
    return found


class Pump:
    """Runs passes of a :class:`TreeState` against a :class:`Disk`, as the watcher does, at ``now``."""

    def __init__(self, disk: Disk, rules: TreeRules = RULES) -> None:
        self.disk = disk
        self.tree = TreeState(rules, label="test")
        self.now = 0.0
        self.watch_alive = True
        self.events: list[GalleryChange] = []

    def start(self) -> tuple[GalleryChange, ...]:
        batch = self.tree.start(self.disk.scan(), self.now)
        self.events += batch
        return batch

    def run_pass(self, *hints: str) -> Outcome:
        tree, disk, now = self.tree, self.disk, self.now
        outcome = QUIET
        if tree.begin_pass(now):
            step = tree.root_seen(disk.root_fact(), self.watch_alive)
            if step is None and tree.rescan_due(now):
                step = tree.rescanned(disk.scan(), now)
            if step is None:
                for path in tree.hinted(hints):
                    directory = tree.examined(path, disk.stat(path), now)
                    if directory is not None:
                        tree.discovered(directory, disk.scan(directory), now)
                for path in tree.due(now):
                    tree.rechecked(path, disk.stat(path), now)
                step = tree.settle(now)
            outcome = step
        if outcome.watch is Watch.STOP:
            self.watch_alive = False
        elif outcome.watch is Watch.REARM:
            self.watch_alive = True  # the watcher starts a new OS watch and rescans
            tree.rescan_soon()
        self.events += outcome.changes
        return outcome

    def wait(self, seconds: float, *hints: str) -> list[GalleryChange]:
        """A pass now (with these notifications), then passes when the tree asks, for ``seconds``."""
        changes = list(self.run_pass(*hints).changes)
        end = self.now + seconds
        for _ in range(10_000):
            if self.now >= end:
                return changes
            self.now = min(end, self.now + self.tree.next_pass_in())
            changes += self.run_pass().changes
        raise AssertionError("the passes never reached the end of the wait")


def started(disk: Disk, rules: TreeRules = RULES) -> Pump:
    pump = Pump(disk, rules)
    assert pump.start() == ()
    return pump


# --- files -------------------------------------------------------------------------------------------


def test_a_burst_of_writes_is_one_modification() -> None:
    disk = Disk()
    disk.write("a.jpg", 1, 1)
    pump = started(disk)
    for i in range(10):
        pump.now = i * 0.05  # a write every 50 ms: each within the debounce of the last
        final = disk.write("a.jpg", 10 + i, 100 + i)
        assert pump.run_pass("a.jpg") == QUIET
    assert pump.wait(1.0) == [FileModified("a.jpg", final.size, final.mtime_ns)]


def test_with_no_stability_time_the_debounce_alone_holds_a_burst_together() -> None:
    disk = Disk()
    pump = started(disk, TreeRules(debounce_ms=100, stable_after_ms=0, root_check_ms=100, tick_s=0.02))
    events: list[GalleryChange] = []
    for i in range(10):
        pump.now = i * 0.05
        final = disk.write("a.jpg", 10 + i, 100 + i)
        events += pump.wait(0.04, "a.jpg")
    events += pump.wait(1.0)
    assert events == [FileCreated("a.jpg", final.size, final.mtime_ns)]


def test_a_file_being_copied_is_reported_once_stable() -> None:
    disk = Disk()
    pump = started(disk)
    # A slow copy: a write every 200 ms, past the debounce but within the stability time.
    for i in range(6):
        pump.now = i * 0.2
        final = disk.write("big.jpg", 1000 * (i + 1), i + 1)
        assert pump.wait(0.19, "big.jpg") == []
    pump.now = 1.24
    assert pump.run_pass() == QUIET  # the last write was at 1.0: 250 ms of stability are not there yet
    pump.now = 1.25
    assert pump.run_pass().changes == (FileCreated("big.jpg", final.size, final.mtime_ns),)


def test_a_write_whose_notification_was_lost_is_caught_by_the_last_look() -> None:
    disk = Disk()
    pump = started(disk)
    disk.write("a.jpg", 10, 1)
    assert pump.wait(0.2, "a.jpg") == []
    disk.write("a.jpg", 20, 2)  # no notification for this one
    assert pump.wait(0.1) == []  # due at 250 ms, looked at once more, found changed
    assert pump.wait(1.0) == [FileCreated("a.jpg", 20, 2)]


def test_a_touch_that_changes_nothing_reported_is_silent() -> None:
    disk = Disk()
    disk.write("a.jpg", 5, 1)
    pump = started(disk)
    assert pump.wait(1.0, "a.jpg") == []  # a chmod: notified, size and mtime the same


def test_a_file_created_and_removed_within_the_debounce_is_never_reported() -> None:
    disk = Disk()
    pump = started(disk)
    disk.write("temp.jpg", 5, 1)
    pump.run_pass("temp.jpg")
    disk.remove("temp.jpg")
    pump.now = 0.05
    assert pump.wait(1.0, "temp.jpg") == []
    assert pump.tree.files == {}


def test_a_deletion_waits_for_the_debounce() -> None:
    disk = Disk()
    disk.write("a.jpg", 5, 1)
    pump = started(disk)
    disk.remove("a.jpg")
    assert pump.wait(0.09, "a.jpg") == []  # a matching arrival may still come
    pump.now = 0.1
    assert pump.run_pass().changes == (FileDeleted("a.jpg"),)


def test_a_renamed_file_keeps_its_identity() -> None:
    disk = Disk()
    before = disk.write("a.jpg", 7, 1)
    disk.mkdir("sub")
    pump = started(disk)
    disk.rename("a.jpg", "sub/renamed.JPEG")
    # Paired at once: the same (device, inode, size, mtime) needs no settling.
    assert pump.run_pass("a.jpg", "sub/renamed.JPEG").changes == (FileMoved("a.jpg", "sub/renamed.JPEG", 7, 1),)
    assert pump.wait(1.0) == []
    assert pump.tree.files == {"sub/renamed.JPEG": before}


def test_a_hard_link_then_unlink_is_a_move() -> None:
    disk = Disk()
    linked = disk.write("a.jpg", 7, 1)
    pump = started(disk)
    disk.write("b.jpg", 7, 1, inode=linked.inode)
    disk.remove("a.jpg")
    assert pump.wait(1.0, "b.jpg", "a.jpg") == [FileMoved("a.jpg", "b.jpg", 7, 1)]


def test_a_file_renamed_over_another_image_modifies_the_target_and_deletes_the_source() -> None:
    disk = Disk()
    new = disk.write("a.jpg", 15, 2)
    old = disk.write("b.jpg", 3, 1)
    pump = started(disk)
    disk.rename("a.jpg", "b.jpg")
    assert pump.wait(1.0, "a.jpg", "b.jpg") == [FileDeleted("a.jpg"), FileModified("b.jpg", 15, 2)]
    assert pump.tree.files == {"b.jpg": new}
    assert new.inode != old.inode


def test_an_image_renamed_to_a_name_that_is_no_image_is_deleted() -> None:
    disk = Disk()
    disk.write("a.jpg", 5, 1)
    pump = started(disk)
    disk.rename("a.jpg", "a.jpg.bak")
    assert pump.wait(1.0, "a.jpg", "a.jpg.bak") == [FileDeleted("a.jpg")]


def test_an_unreadable_path_is_not_a_deletion() -> None:
    disk = Disk()
    disk.write("a.jpg", 5, 1)
    pump = started(disk)
    disk.unreadable.add("a.jpg")
    assert pump.wait(1.0, "a.jpg") == []
    assert "a.jpg" in pump.tree.files


def test_inode_reuse_is_not_a_rename() -> None:
    disk = Disk()
    gone = disk.write("a.jpg", 5, 1)
    pump = started(disk)
    disk.remove("a.jpg")
    disk.write("b.jpg", 5, 2, inode=gone.inode)  # the number freed at once, given to a new file
    assert pump.wait(1.0, "a.jpg", "b.jpg") == [FileDeleted("a.jpg"), FileCreated("b.jpg", 5, 2)]


# --- directories -------------------------------------------------------------------------------------


def test_a_directory_rename_moves_every_file_inside() -> None:
    disk = Disk()
    names = ["a.jpg", "b.jpg", "nested/c.png", "nested/deeper/d.gif"]
    stats = {name: disk.write(f"trip/{name}", 10 + i, i + 1) for i, name in enumerate(names)}
    disk.mkdir("archive")
    pump = started(disk)
    disk.rename("trip", "archive/trip-2024")
    # inotify names the directory only, at both ends; its files are found by scanning the new one.
    events = pump.wait(1.0, "trip", "archive/trip-2024")
    moves = {FileMoved(f"trip/{n}", f"archive/trip-2024/{n}", s.size, s.mtime_ns) for n, s in stats.items()}
    assert events[0] == DirectoryMoved("trip", "archive/trip-2024")  # the subtree once, first
    assert set(events[1:]) == moves
    assert len(events) == 1 + len(moves)
    assert sorted(pump.tree.directories) == [
        "archive",
        "archive/trip-2024",
        "archive/trip-2024/nested",
        "archive/trip-2024/nested/deeper",
    ]


def test_a_directory_removed_and_another_made_with_its_inode_is_no_move() -> None:
    disk = Disk()
    disk.write("a/x.jpg", 5, 1)
    pump = started(disk)
    reused = disk.dirs["a"]
    disk.remove("a")
    disk.mkdir("b", identity=reused)
    disk.write("b/y.jpg", 6, 2)
    events = pump.wait(1.0, "a", "b", "b/y.jpg")
    created = FileCreated("b/y.jpg", 6, 2)
    assert set(events) == {DirectoryCreated("b"), FileDeleted("a/x.jpg"), created, DirectoryDeleted("a")}
    assert len(events) == 4
    assert events.index(DirectoryCreated("b")) < events.index(created)
    assert events.index(FileDeleted("a/x.jpg")) < events.index(DirectoryDeleted("a"))


@pytest.mark.parametrize(
    "hints",
    [("d",), ("d", "d/a.jpg", "d/b.jpg", "d/e", "d/e/c.jpg", "d/e/f", "d/e/f/g.jpg")],
    ids=["moved-out", "rm-r"],
)
def test_deleting_a_directory_deletes_every_file_below_and_the_directory_once(hints: tuple[str, ...]) -> None:
    disk = Disk()
    names = ["d/a.jpg", "d/b.jpg", "d/e/c.jpg", "d/e/f/g.jpg"]
    for name in names:
        disk.write(name, 5, 1)
    disk.write("stays.jpg", 5, 1)
    pump = started(disk)
    disk.remove("d")
    events = pump.wait(1.0, *hints)
    assert events[-1] == DirectoryDeleted("d")
    assert set(events[:-1]) == {FileDeleted(n) for n in names}
    assert len(events) == len(names) + 1
    assert list(pump.tree.files) == ["stays.jpg"]
    assert pump.tree.directories == {}


def test_a_directory_moved_into_the_tree_is_reported_before_its_files() -> None:
    disk = Disk()
    pump = started(disk)
    disk.write("m/a.jpg", 5, 1)
    disk.write("m/n/b.png", 6, 2)
    disk.write("m/n/skip.txt", 7, 3)
    events = pump.wait(1.0, "m")
    assert events == [
        DirectoryCreated("m"),
        DirectoryCreated("m/n"),
        FileCreated("m/a.jpg", 5, 1),
        FileCreated("m/n/b.png", 6, 2),
    ]


def test_a_file_in_a_directory_never_notified_is_found_by_scanning_it() -> None:
    disk = Disk()
    pump = started(disk)
    disk.write("new/inner/x.jpg", 5, 1)  # made before inotify watched "new": only the file is named
    assert pump.wait(1.0, "new/inner/x.jpg") == [
        DirectoryCreated("new"),
        DirectoryCreated("new/inner"),
        FileCreated("new/inner/x.jpg", 5, 1),
    ]


def test_a_directory_moved_out_and_back_within_the_debounce_changes_nothing() -> None:
    disk = Disk()
    disk.write("d/a.jpg", 5, 1)
    pump = started(disk)
    identity, files = disk.dirs["d"], dict(disk.files)
    disk.remove("d")  # moved out: the directory and its files are gone from the tree
    pump.run_pass("d")
    disk.mkdir("d", identity=identity)  # moved back: the same inodes at the same paths
    disk.files.update(files)
    pump.now = 0.05
    assert pump.wait(1.0, "d") == []


# --- the root ----------------------------------------------------------------------------------------


def test_an_unavailable_root_deletes_nothing_then_comes_back_with_the_differences() -> None:
    disk = Disk()
    disk.write("a.jpg", 5, 1)
    disk.write("d/b.jpg", 5, 1)
    disk.write("gone-later.jpg", 5, 1)
    pump = started(disk)
    disk.root = None  # moved away (or unmounted, or made unreadable)
    assert pump.run_pass("a.jpg") == Outcome((RootUnavailable(GONE_ROOT),), Watch.STOP)
    assert not pump.tree.available
    assert pump.tree.unavailable_reason == GONE_ROOT
    # Changed while away; the root is polled, nothing is reported.
    disk.remove("gone-later.jpg")
    disk.write("d/new.jpg", 6, 2)
    assert pump.wait(1.0, "d/new.jpg") == []
    # Back: the watch is re-armed, the tree rescanned, and the differences follow RootAvailable.
    disk.root = (DEVICE, 1)
    events = pump.wait(1.0)
    assert events == [RootAvailable(), FileDeleted("gone-later.jpg"), FileCreated("d/new.jpg", 6, 2)]
    assert pump.tree.available
    assert sorted(pump.tree.files) == ["a.jpg", "d/b.jpg", "d/new.jpg"]


def test_a_root_missing_at_the_start_is_waited_for_and_then_reported_whole() -> None:
    disk = Disk()
    disk.root = None
    pump = Pump(disk)
    assert pump.start() == (RootUnavailable(GONE_ROOT),)
    assert pump.wait(1.0) == []
    disk.root = (DEVICE, 7)
    disk.write("a.jpg", 5, 1)
    assert pump.wait(1.0) == [RootAvailable(), FileCreated("a.jpg", 5, 1)]


def test_a_root_polled_while_away_only_every_root_check() -> None:
    disk = Disk()
    disk.root = None
    pump = Pump(disk)
    pump.start()
    assert pump.tree.next_pass_in() == 0.1
    disk.root = (DEVICE, 1)
    pump.now = 0.05
    assert pump.run_pass() == QUIET  # not due: the root is not looked at
    pump.now = 0.1
    assert pump.run_pass() == Outcome((), Watch.REARM)  # there: watch it, then rescan at once
    assert pump.tree.next_pass_in() == 0.0
    assert pump.run_pass() == Outcome((RootAvailable(),), Watch.KEEP)


def test_another_directory_at_the_root_is_watched_afresh() -> None:
    disk = Disk()
    disk.write("a.jpg", 5, 1)
    pump = started(disk)
    disk.root = (DEVICE, 2)  # remounted: same files, another inode at the root's path
    assert pump.run_pass() == Outcome((), Watch.REARM)
    assert pump.wait(1.0) == []


def test_an_empty_rescan_counts_as_unavailable() -> None:
    disk = Disk()
    disk.write("a.jpg", 5, 1)
    disk.write("d/b.jpg", 5, 1)
    pump = started(disk)
    # Unmounted: an empty directory (another inode) at the root's path.
    mounted = (disk.root, dict(disk.files), dict(disk.dirs))
    disk.root, disk.files, disk.dirs = (DEVICE, 2), {}, {}
    assert pump.wait(1.0) == [RootUnavailable(EMPTY_ROOT_REASON)]
    assert not pump.tree.available
    # Mounted again: the same tree is back, and nothing was deleted meanwhile.
    disk.root, disk.files, disk.dirs = mounted
    assert pump.wait(1.0) == [RootAvailable()]
    assert sorted(pump.tree.files) == ["a.jpg", "d/b.jpg"]


def test_an_empty_rescan_deletes_when_allow_empty_root_deletion() -> None:
    disk = Disk()
    disk.write("a.jpg", 5, 1)
    disk.write("d/b.jpg", 5, 1)
    rules = TreeRules(
        debounce_ms=100, stable_after_ms=250, root_check_ms=100, tick_s=0.02, allow_empty_root_deletion=True
    )
    pump = started(disk, rules)
    disk.root, disk.files, disk.dirs = (DEVICE, 2), {}, {}
    assert pump.wait(1.0) == [FileDeleted("a.jpg"), FileDeleted("d/b.jpg"), DirectoryDeleted("d")]
    assert pump.tree.available


def test_a_periodic_rescan_finds_what_no_notification_named() -> None:
    disk = Disk()
    rules = TreeRules(debounce_ms=100, stable_after_ms=250, root_check_ms=100, tick_s=0.02, rescan_interval_s=0.5)
    pump = started(disk, rules)
    disk.write("unnoticed.jpg", 5, 1)
    assert pump.wait(0.4) == []
    assert pump.wait(1.0) == [FileCreated("unnoticed.jpg", 5, 1)]


# --- what to look at, and when -----------------------------------------------------------------------


def test_hints_are_filtered_deduplicated_and_parents_first() -> None:
    rules = TreeRules(selection=FileSelection.of(exclude=[".*"]))
    tree = TreeState(rules)
    tree.start(DirectoryScan(RootState.OK, root_device=1, root_inode=1), 0.0)
    assert tree.begin_pass(0.0)
    hinted = tree.hinted(["d/e/x.jpg", ".", "d", ".cache/y.jpg", "d/.tmp.jpg", "d", "a.jpg"])
    assert hinted == ["a.jpg", "d", "d/e/x.jpg"]


def test_the_next_pass_comes_at_the_tick_while_work_waits_and_at_the_root_check_when_idle() -> None:
    disk = Disk()
    pump = started(disk)
    assert pump.tree.next_pass_in() == 0.1
    disk.write("a.jpg", 5, 1)
    pump.run_pass("a.jpg")
    assert pump.tree.next_pass_in() == 0.02
    pump.wait(1.0)
    assert pump.tree.next_pass_in() == 0.1
    pump.tree.rescan_soon()
    assert pump.tree.next_pass_in() == 0.0


def test_the_engine_does_no_io_and_reads_no_clock() -> None:
    from kartoteka.infrastructure.watcher import tree_facts, tree_picture, tree_renames, tree_state

    allowed = {"__future__", "collections", "dataclasses", "enum", "logging", "kartoteka"}
    for module in (tree_facts, tree_picture, tree_renames, tree_state):
        assert module.__file__ is not None
        tree = ast.parse(Path(module.__file__).read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        for name in imported:
            assert name.split(".")[0] in allowed, f"{module.__name__} imports {name}"
            if name.startswith("kartoteka."):
                assert name.startswith(("kartoteka.domain.", "kartoteka.infrastructure.watcher.tree_")), name
