"""The directory watcher end to end, on a real directory with real inotify.

Nothing here sleeps to let something happen: a test waits for an event with a deadline. Where a test
must show that something did *not* happen, it waits for a later "fence" file to be reported: the
watcher decides in the order things happened, so by the time the fence is reported, anything from
before it that was going to be reported has been.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

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
from kartoteka.domain.gallery.selection import FileSelection
from kartoteka.infrastructure.watcher.fs_watcher import DirectoryWatcher, WatcherOptions

FAST = WatcherOptions(
    selection=FileSelection.of(exclude=[".*"]),
    debounce_ms=100,
    stable_after_ms=250,
    root_check_ms=100,
    tick_ms=20,
)
DEADLINE_S = 15.0


class Recorder:
    """Collects the watcher's events in the background and waits for conditions on them."""

    def __init__(self, watcher: DirectoryWatcher, root: Path) -> None:
        self.watcher = watcher
        self.root = root
        self.events: list[GalleryChange] = []
        self.batches: list[tuple[GalleryChange, ...]] = []
        self._fences = 0
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for batch in self.watcher.events():
            self.batches.append(batch)
            self.events.extend(batch)

    async def wait_for(self, condition: Callable[[list[GalleryChange]], bool], what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE_S
        while not condition(self.events):
            if loop.time() > deadline:
                pytest.fail(f"timed out waiting for {what}; events so far: {self.events}")
            await asyncio.sleep(0.02)

    async def wait_event(self, event: GalleryChange) -> None:
        await self.wait_for(lambda events: event in events, repr(event))

    async def fence(self) -> None:
        """Create a file and wait for it: what happened before has been reported by then."""
        self._fences += 1
        path = self.root / f"fence-{self._fences}.jpg"
        path.write_bytes(b"fence")
        name = path.name
        await self.wait_for(lambda events: any(isinstance(e, FileCreated) and e.path == name for e in events), name)

    def without_fences(self) -> list[GalleryChange]:
        return [e for e in self.events if not (isinstance(e, FileCreated) and e.path.startswith("fence-"))]

    def clear(self) -> None:
        self.events.clear()
        self.batches.clear()

    async def close(self) -> None:
        await self.watcher.stop()
        await asyncio.wait_for(self._task, 5)


def write(path: Path, data: bytes = b"image") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def created(path: Path, root: Path) -> FileCreated:
    info = os.stat(path)
    return FileCreated(path.relative_to(root).as_posix(), info.st_size, info.st_mtime_ns)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "gallery"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    return path


async def watch(root: Path, options: WatcherOptions = FAST) -> Recorder:
    watcher = DirectoryWatcher(root, options)
    await watcher.start()
    return Recorder(watcher, root)


@pytest.fixture
async def recorder(root: Path) -> AsyncIterator[Recorder]:
    rec = await watch(root)
    yield rec
    await rec.close()


# --- files -------------------------------------------------------------------------------------------


async def test_baseline_is_the_scan_made_when_the_watch_started(root: Path) -> None:
    write(root / "a.jpg")
    write(root / "d/b.png")
    rec = await watch(root)
    try:
        assert [f.path for f in rec.watcher.baseline.files] == ["a.jpg", "d/b.png"]
        # Made just after start() returned: not lost between the scan and the watch.
        path = write(root / "right-after.jpg")
        await rec.wait_event(created(path, root))
    finally:
        await rec.close()


async def test_created_images_in_any_case_are_reported_and_other_files_ignored(recorder: Recorder, root: Path) -> None:
    jpg = write(root / "a.jpg")
    upper = write(root / "B.JPG", b"upper")
    write(root / "notes.txt")
    write(root / ".hidden.jpg")
    await recorder.wait_for(lambda e: len([x for x in e if isinstance(x, FileCreated)]) >= 2, "two creations")
    await recorder.fence()
    assert sorted(recorder.without_fences(), key=repr) == sorted([created(jpg, root), created(upper, root)], key=repr)


async def test_a_burst_of_writes_is_one_modification(root: Path) -> None:
    path = write(root / "a.jpg", b"1")
    rec = await watch(root)
    try:
        for i in range(10):
            with path.open("ab") as stream:
                stream.write(b"more" * i)
        info = os.stat(path)
        await rec.wait_event(FileModified("a.jpg", info.st_size, info.st_mtime_ns))
        await rec.fence()
        assert rec.without_fences() == [FileModified("a.jpg", info.st_size, info.st_mtime_ns)]
    finally:
        await rec.close()


async def test_a_touch_that_changes_nothing_reported_is_silent_but_a_new_mtime_is_a_modification(
    root: Path,
) -> None:
    path = write(root / "a.jpg")
    rec = await watch(root)
    try:
        os.chmod(path, 0o600)  # an attribute change: size and mtime stay
        await rec.fence()
        assert rec.without_fences() == []
        os.utime(path, ns=(1_000_000_000, 2_000_000_000))
        await rec.wait_event(FileModified("a.jpg", 5, 2_000_000_000))
    finally:
        await rec.close()


async def test_a_renamed_file_is_moved_not_deleted_and_created(root: Path) -> None:
    write(root / "a.jpg", b"payload")
    (root / "sub").mkdir()
    info = os.stat(root / "a.jpg")
    rec = await watch(root)
    try:
        os.rename(root / "a.jpg", root / "sub" / "renamed.JPEG")
        await rec.wait_event(FileMoved("a.jpg", "sub/renamed.JPEG", info.st_size, info.st_mtime_ns))
        await rec.fence()
        assert rec.without_fences() == [FileMoved("a.jpg", "sub/renamed.JPEG", info.st_size, info.st_mtime_ns)]
    finally:
        await rec.close()


async def test_a_deleted_file_is_reported(root: Path) -> None:
    write(root / "a.jpg")
    write(root / "b.jpg")
    rec = await watch(root)
    try:
        (root / "a.jpg").unlink()
        await rec.wait_event(FileDeleted("a.jpg"))
        await rec.fence()
        assert rec.without_fences() == [FileDeleted("a.jpg")]
    finally:
        await rec.close()


async def test_a_renamed_away_non_image_is_a_deletion(root: Path) -> None:
    write(root / "a.jpg")
    rec = await watch(root)
    try:
        os.rename(root / "a.jpg", root / "a.jpg.bak")
        await rec.wait_event(FileDeleted("a.jpg"))
    finally:
        await rec.close()


async def test_a_partial_write_is_reported_only_once_complete(recorder: Recorder, root: Path) -> None:
    path = root / "big.jpg"
    half = os.urandom(64 * 1024)
    loop = asyncio.get_running_loop()
    with path.open("wb") as stream:
        stream.write(half)
        stream.flush()
        # The writer goes on writing more slowly than the debounce but faster than the stability time,
        # for well over the stability time: the file must not be reported while it grows.
        until = loop.time() + 4 * FAST.stable_after_ms / 1000
        while loop.time() < until:
            await asyncio.sleep(FAST.stable_after_ms / 1000 / 4)
            stream.write(os.urandom(4096))
            stream.flush()
            assert not [e for e in recorder.events if getattr(e, "path", None) == "big.jpg"], recorder.events
    final = created(path, root)
    await recorder.wait_event(final)
    await recorder.fence()
    assert recorder.without_fences() == [final]
    assert final.size > len(half)


async def test_a_file_created_and_removed_within_the_debounce_is_never_reported(recorder: Recorder, root: Path) -> None:
    write(root / "temp.jpg").unlink()
    await recorder.fence()
    assert recorder.without_fences() == []


async def test_replacing_a_file_by_rename_over_it_is_a_modification(root: Path) -> None:
    write(root / "a.jpg", b"old")
    rec = await watch(root)
    try:
        write(root / ".a.jpg.tmp", b"new content")  # an editor's safe save: temp file, then rename
        os.replace(root / ".a.jpg.tmp", root / "a.jpg")
        info = os.stat(root / "a.jpg")
        await rec.wait_event(FileModified("a.jpg", info.st_size, info.st_mtime_ns))
        await rec.fence()
        assert rec.without_fences() == [FileModified("a.jpg", info.st_size, info.st_mtime_ns)]
    finally:
        await rec.close()


async def test_a_hard_link_then_unlink_is_a_move(root: Path) -> None:
    write(root / "a.jpg", b"linked")
    info = os.stat(root / "a.jpg")
    rec = await watch(root)
    try:
        os.link(root / "a.jpg", root / "b.jpg")
        (root / "a.jpg").unlink()
        await rec.wait_event(FileMoved("a.jpg", "b.jpg", info.st_size, info.st_mtime_ns))
        await rec.fence()
        assert rec.without_fences() == [FileMoved("a.jpg", "b.jpg", info.st_size, info.st_mtime_ns)]
    finally:
        await rec.close()


async def test_a_file_renamed_over_another_modifies_the_target_and_deletes_the_source(root: Path) -> None:
    write(root / "a.jpg", b"the new picture")
    write(root / "b.jpg", b"old")
    rec = await watch(root)
    try:
        os.replace(root / "a.jpg", root / "b.jpg")
        info = os.stat(root / "b.jpg")
        modified = FileModified("b.jpg", info.st_size, info.st_mtime_ns)
        await rec.wait_for(lambda e: {modified, FileDeleted("a.jpg")} <= set(e), "modification and deletion")
        await rec.fence()
        assert rec.without_fences() == [FileDeleted("a.jpg"), modified]
    finally:
        await rec.close()


# --- directories -------------------------------------------------------------------------------------


def tree(base: Path, names: list[str]) -> dict[str, os.stat_result]:
    result = {}
    for i, name in enumerate(names):
        result[name] = os.stat(write(base / name, f"content {i}".encode()))
    return result


async def test_a_directory_renamed_inside_the_tree_moves_every_file(root: Path) -> None:
    files = tree(root / "trip", ["a.jpg", "b.jpg", "nested/c.png", "nested/deeper/d.gif"])
    (root / "archive").mkdir()
    rec = await watch(root)
    try:
        os.rename(root / "trip", root / "archive" / "trip-2024")
        expected_moves = {
            FileMoved(f"trip/{name}", f"archive/trip-2024/{name}", info.st_size, info.st_mtime_ns)
            for name, info in files.items()
        }
        await rec.wait_for(lambda e: expected_moves <= set(e), "four file moves")
        await rec.fence()
        events = rec.without_fences()
        assert set(events) == expected_moves | {DirectoryMoved("trip", "archive/trip-2024")}
        assert events[0] == DirectoryMoved("trip", "archive/trip-2024")  # the subtree once, first
    finally:
        await rec.close()


async def test_a_directory_moved_out_of_the_tree_deletes_its_files(root: Path, outside: Path) -> None:
    tree(root / "d", ["a.jpg", "sub/b.jpg"])
    write(root / "stays.jpg")
    rec = await watch(root)
    try:
        os.rename(root / "d", outside / "d")
        await rec.wait_event(DirectoryDeleted("d"))
        await rec.fence()
        events = rec.without_fences()
        assert set(events) == {FileDeleted("d/a.jpg"), FileDeleted("d/sub/b.jpg"), DirectoryDeleted("d")}
        assert events[-1] == DirectoryDeleted("d")
    finally:
        await rec.close()


async def test_a_directory_moved_into_the_tree_creates_its_files(root: Path, outside: Path) -> None:
    files = tree(outside / "m", ["a.jpg", "n/b.png", "n/skip.txt"])
    rec = await watch(root)
    try:
        os.rename(outside / "m", root / "m")
        expected = {
            FileCreated(f"m/{name}", i.st_size, i.st_mtime_ns) for name, i in files.items() if ".txt" not in name
        }
        await rec.wait_for(lambda e: expected <= set(e), "the moved-in files")
        await rec.fence()
        events = rec.without_fences()
        assert set(events) == expected | {DirectoryCreated("m"), DirectoryCreated("m/n")}
        # Directories before what they hold, parents before children.
        assert events.index(DirectoryCreated("m")) < events.index(DirectoryCreated("m/n"))
        assert max(events.index(DirectoryCreated("m")), events.index(DirectoryCreated("m/n"))) < min(
            events.index(e) for e in expected
        )
    finally:
        await rec.close()


async def test_files_made_in_a_new_directory_at_once_are_not_missed(recorder: Recorder, root: Path) -> None:
    # inotify learns of the directory and only then watches it: files made in between come only from a scan.
    made = []
    for i in range(5):
        directory = root / f"new-{i}" / "inner"
        directory.mkdir(parents=True)
        made.append(write(directory / "x.jpg", bytes([i])))
    expected = {created(path, root) for path in made}
    await recorder.wait_for(lambda e: expected <= set(e), "files in new directories")


async def test_rm_r_of_a_directory_deletes_each_file_and_the_directory_once(root: Path) -> None:
    tree(root / "d", ["a.jpg", "b.jpg", "e/c.jpg", "e/f/g.jpg"])
    rec = await watch(root)
    try:
        shutil.rmtree(root / "d")
        await rec.wait_event(DirectoryDeleted("d"))
        await rec.fence()
        events = rec.without_fences()
        deletions = {FileDeleted(f"d/{n}") for n in ["a.jpg", "b.jpg", "e/c.jpg", "e/f/g.jpg"]}
        assert set(events) == deletions | {DirectoryDeleted("d")}
        assert len(events) == len(deletions) + 1
    finally:
        await rec.close()


async def test_a_directory_moved_out_and_back_in_quickly_changes_nothing(root: Path, outside: Path) -> None:
    tree(root / "d", ["a.jpg", "sub/b.jpg"])
    rec = await watch(root)
    try:
        os.rename(root / "d", outside / "d")
        os.rename(outside / "d", root / "d")
        await rec.fence()
        assert rec.without_fences() == []
    finally:
        await rec.close()


async def test_a_file_moved_into_a_new_directory_keeps_its_id_and_follows_the_directory(root: Path) -> None:
    write(root / "a.jpg", b"moving")
    info = os.stat(root / "a.jpg")
    rec = await watch(root)
    try:
        (root / "new").mkdir()
        os.rename(root / "a.jpg", root / "new" / "a.jpg")
        move = FileMoved("a.jpg", "new/a.jpg", info.st_size, info.st_mtime_ns)
        await rec.wait_event(move)
        await rec.fence()
        assert rec.without_fences() == [DirectoryCreated("new"), move]
    finally:
        await rec.close()


async def test_a_directory_removed_and_made_anew_is_not_deleted_after_its_new_files(root: Path) -> None:
    tree(root / "d", ["old.jpg", "e/older.jpg"])
    rec = await watch(root)
    try:
        shutil.rmtree(root / "d")
        new = write(root / "d" / "new.jpg", b"fresh")
        await rec.wait_event(created(new, root))
        await rec.fence()
        events = rec.without_fences()
        assert set(events) == {
            FileDeleted("d/old.jpg"),
            FileDeleted("d/e/older.jpg"),
            DirectoryDeleted("d/e"),
            created(new, root),
        }
        # Applied in order, the index ends with d/new.jpg and the directory d.
        assert events.index(FileDeleted("d/old.jpg")) < events.index(created(new, root))
    finally:
        await rec.close()


async def test_a_directory_removed_and_another_made_is_no_move_even_with_a_reused_inode(root: Path) -> None:
    tree(root / "a", ["x.jpg"])
    rec = await watch(root)
    try:
        shutil.rmtree(root / "a")
        new = write(root / "b" / "y.jpg", b"other")  # b may well get a's inode number
        await rec.wait_event(created(new, root))
        await rec.fence()
        events = rec.without_fences()
        assert set(events) == {DirectoryCreated("b"), FileDeleted("a/x.jpg"), created(new, root), DirectoryDeleted("a")}
        assert len(events) == 4
        assert events.index(DirectoryCreated("b")) < events.index(created(new, root))
        assert events.index(FileDeleted("a/x.jpg")) < events.index(DirectoryDeleted("a"))
    finally:
        await rec.close()


async def test_a_subdirectory_removed_right_after_its_parent_moved_is_deleted_at_its_new_path(root: Path) -> None:
    files = tree(root / "d", ["keep.jpg", "e/x.jpg"])
    rec = await watch(root)
    try:
        os.rename(root / "d", root / "f")
        shutil.rmtree(root / "f" / "e")
        keep = files["keep.jpg"]
        await rec.wait_event(DirectoryDeleted("f/e"))
        await rec.fence()
        events = rec.without_fences()
        assert set(events) == {
            DirectoryMoved("d", "f"),
            FileMoved("d/keep.jpg", "f/keep.jpg", keep.st_size, keep.st_mtime_ns),
            FileDeleted("d/e/x.jpg"),  # file events name the files' own paths: the index never moved it
            DirectoryDeleted("f/e"),  # directory events follow the directory tree, which did move
        }
        assert len(events) == 4
        assert events.index(DirectoryMoved("d", "f")) < events.index(DirectoryDeleted("f/e"))
    finally:
        await rec.close()


# --- the root ----------------------------------------------------------------------------------------


async def test_a_root_moved_away_is_reported_deletes_nothing_and_resumes(root: Path, outside: Path) -> None:
    tree(root, ["a.jpg", "d/b.jpg", "gone-later.jpg"])
    rec = await watch(root)
    try:
        aside = outside / "aside"
        os.rename(root, aside)
        await rec.wait_for(lambda e: any(isinstance(x, RootUnavailable) for x in e), "RootUnavailable")
        assert not rec.watcher.available
        # Changes made while it is away are reported once it is back, after RootAvailable.
        (aside / "gone-later.jpg").unlink()
        write(aside / "d" / "new.jpg", b"new")
        os.rename(aside, root)
        added = root / "d" / "new.jpg"
        await rec.wait_for(lambda e: RootAvailable() in e, "RootAvailable")
        await rec.wait_event(created(added, root))
        await rec.wait_event(FileDeleted("gone-later.jpg"))
        await rec.fence()
        events = rec.without_fences()
        assert [type(e).__name__ for e in events[:2]] == ["RootUnavailable", "RootAvailable"]
        assert set(events[2:]) == {created(added, root), FileDeleted("gone-later.jpg")}
        assert rec.watcher.available
    finally:
        await rec.close()


async def test_an_empty_directory_in_place_of_the_root_looks_unmounted(root: Path, outside: Path) -> None:
    tree(root, ["a.jpg", "d/b.jpg"])
    rec = await watch(root)
    try:
        # What an unmount looks like: the path is there, on another device or inode, and empty.
        aside = outside / "aside"
        os.rename(root, aside)
        os.mkdir(root)
        await rec.wait_for(lambda e: any(isinstance(x, RootUnavailable) for x in e), "RootUnavailable")
        # Remounted: the real directory is back at the path.
        os.rmdir(root)
        os.rename(aside, root)
        await rec.wait_for(lambda e: RootAvailable() in e, "RootAvailable")
        await rec.fence()
        events = rec.without_fences()
        assert not [e for e in events if isinstance(e, FileDeleted | DirectoryDeleted)], events
        assert events[-1] == RootAvailable()
        assert len([e for e in events if isinstance(e, RootUnavailable)]) >= 1
    finally:
        await rec.close()


async def test_a_root_that_does_not_exist_yet_is_waited_for(tmp_path: Path) -> None:
    root = tmp_path / "later"
    rec = await watch(root)
    try:
        await rec.wait_for(lambda e: any(isinstance(x, RootUnavailable) for x in e), "RootUnavailable")
        staged = tmp_path / "staged"
        path = write(staged / "a.jpg")
        info = os.stat(path)
        os.rename(staged, root)
        await rec.wait_event(RootAvailable())
        await rec.wait_event(FileCreated("a.jpg", info.st_size, info.st_mtime_ns))
    finally:
        await rec.close()


async def test_an_error_in_a_pass_is_logged_and_the_watcher_goes_on(
    recorder: Recorder, root: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    original = DirectoryWatcher._examine
    failures = {"left": 1}

    def flaky(self: DirectoryWatcher, path: str, now: float) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("injected failure")
        original(self, path, now)

    monkeypatch.setattr(DirectoryWatcher, "_examine", flaky)
    write(root / "lost-hint.jpg")
    await recorder.wait_for(lambda _: failures["left"] == 0, "the injected failure")
    later = write(root / "later.jpg", b"later")
    await recorder.wait_event(created(later, root))
    assert "injected failure" in caplog.text


async def test_a_periodic_rescan_finds_what_notifications_missed(root: Path) -> None:
    options = WatcherOptions(
        selection=FAST.selection,
        debounce_ms=FAST.debounce_ms,
        stable_after_ms=FAST.stable_after_ms,
        root_check_ms=FAST.root_check_ms,
        tick_ms=FAST.tick_ms,
        rescan_interval_s=0.3,
    )
    rec = await watch(root, options)
    try:
        # Stop the OS watch behind the watcher's back, as an inotify queue overflow would lose events.
        await rec.watcher._stop_pump()
        path = write(root / "unnoticed.jpg")
        await rec.wait_event(created(path, root))
    finally:
        await rec.close()


def polling(options: WatcherOptions) -> WatcherOptions:
    return WatcherOptions(
        selection=options.selection,
        debounce_ms=options.debounce_ms,
        stable_after_ms=options.stable_after_ms,
        root_check_ms=options.root_check_ms,
        tick_ms=options.tick_ms,
        force_polling=True,
        poll_delay_ms=50,
    )


async def test_polling_mode_reports_the_same_changes(root: Path) -> None:
    tree(root / "d", ["a.jpg", "b.jpg"])
    info = os.stat(root / "d" / "a.jpg")
    rec = await watch(root, polling(FAST))
    try:
        os.rename(root / "d", root / "e")
        await rec.wait_event(FileMoved("d/a.jpg", "e/a.jpg", info.st_size, info.st_mtime_ns))
        path = write(root / "e" / "new.png", b"new")
        await rec.wait_event(created(path, root))
        (root / "e" / "b.jpg").unlink()
        await rec.wait_event(FileDeleted("e/b.jpg"))
    finally:
        await rec.close()


async def test_when_inotify_cannot_be_set_up_the_watcher_falls_back_to_polling(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kartoteka.infrastructure.watcher import fs_watcher

    real_awatch = fs_watcher.awatch

    def limited(*args: object, **kwargs: object) -> object:
        if not kwargs.get("force_polling"):
            raise OSError(28, "OS file watch limit reached")
        return real_awatch(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fs_watcher, "awatch", limited)
    rec = await watch(root)
    try:
        await rec.wait_for(lambda _: rec.watcher._polling, "the fallback to polling")
        path = write(root / "seen-by-polling.jpg")
        await rec.wait_event(created(path, root))
    finally:
        await rec.close()
