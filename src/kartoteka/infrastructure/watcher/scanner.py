"""Walking a watched root, and hashing a file, with nothing more than the OS calls they need.

The scan is what makes a restart cheap: ``os.scandir`` lists a directory in one call and hands over
each entry's type for free, so the walk costs one ``stat`` per image file (size, mtime, inode), one
per directory (for the directory view and loop detection) and one ``access`` per image file (so an
unreadable file is reported as such instead of failing later). No file is opened, decoded or hashed:
deciding what changed is the reconciliation's job, and it hashes only what the scan cannot vouch for.

What the walk cannot see it reports instead of raising — a permission error deep in the tree must
not abort the whole scan, and must not look like a deletion either (see
:mod:`kartoteka.domain.gallery.reconciliation`).

Both functions block on the filesystem (a network share can stall for seconds): call them through
:func:`scan_root_async` / :func:`hash_file_async` / :func:`hash_files_async`, which run them in a
worker thread, never directly on an event loop.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kartoteka.domain.gallery.scan import (
    ROOT_PATH,
    DirectoryScan,
    ProblemKind,
    RootState,
    ScannedDirectory,
    ScannedFile,
    ScanProblem,
    join,
)
from kartoteka.domain.gallery.selection import FileSelection

log = logging.getLogger(__name__)

HASH_CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """What the walk selects and whether it follows symbolic links.

    With ``follow_symlinks`` off (the default) a symbolic link is skipped, file or directory: a link
    can lead out of the root or back into it, and a gallery rarely needs that. With it on, links are
    followed, and every directory is visited once by its (device, inode), so a link to an ancestor
    or two links to one directory cannot make the walk loop or list files twice.
    """

    selection: FileSelection = field(default_factory=FileSelection)
    follow_symlinks: bool = False


def scan_root(root: Path | str, options: ScanOptions | None = None, *, start: str = ROOT_PATH) -> DirectoryScan:
    """Walk ``root`` (or only its subdirectory ``start``) and describe the image files and directories.

    Paths in the result are relative to ``root`` even when ``start`` narrows the walk (the watcher
    scans a directory that was moved into the tree this way). The state of the result describes
    ``start``: a subdirectory that vanished before it could be walked is ``MISSING``.
    """
    opts = options or ScanOptions()
    return _Walk(Path(root), opts).run(start)


async def scan_root_async(
    root: Path | str, options: ScanOptions | None = None, *, start: str = ROOT_PATH
) -> DirectoryScan:
    """:func:`scan_root` in a worker thread."""
    return await asyncio.to_thread(scan_root, root, options, start=start)


def hash_file(path: Path | str, chunk_size: int = HASH_CHUNK_SIZE) -> str:
    """SHA-256 of the file's bytes, hex, read in chunks of up to 1 MiB.

    The bytes, not decoded pixels: it needs no image library, costs a sequential read, and is what a
    copy or a move preserves. (Two encodings of the same picture hash differently; the index treats
    them as two images, which they are on disk.) Raises ``OSError`` when the file cannot be read.
    """
    return _Hasher(chunk_size).hash(path)


async def hash_file_async(path: Path | str, chunk_size: int = HASH_CHUNK_SIZE) -> str:
    """:func:`hash_file` in a worker thread."""
    return await asyncio.to_thread(hash_file, path, chunk_size)


def hash_files(root: Path | str, paths: Iterable[str]) -> dict[str, str]:
    """Hash the files at these root-relative paths; a file that cannot be read is left out (and logged).

    Leaving a failure out is the contract of :meth:`ReconciliationPlan.resolve`: an unhashed file
    changes nothing in the index, so a file that vanished or turned unreadable between the scan and
    the hash is simply retried by the next reconciliation.
    """
    base = Path(root)
    hasher = _Hasher(HASH_CHUNK_SIZE)
    hashes: dict[str, str] = {}
    for path in paths:
        try:
            hashes[path] = hasher.hash(base / path)
        except OSError as exc:
            log.warning("cannot hash %s in %s: %s", path, base, exc)
    return hashes


async def hash_files_async(root: Path | str, paths: Iterable[str]) -> dict[str, str]:
    """:func:`hash_files` in a worker thread."""
    return await asyncio.to_thread(hash_files, root, list(paths))


class _Hasher:
    """Streams files through SHA-256 with one read buffer, grown on demand and reused across files.

    A fresh 1 MiB buffer per file would cost more than hashing a 2 KiB image; one buffer, sized by
    the largest file seen (at most ``chunk_size``), makes hashing many small files cheap.
    """

    def __init__(self, chunk_size: int) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self._chunk_size = chunk_size
        self._buffer = bytearray(0)

    def hash(self, path: Path | str) -> str:
        digest = hashlib.sha256()
        with open(path, "rb", buffering=0) as stream:
            # One byte more than the size, so a file read whole also sees its end in the same call.
            wanted = min(self._chunk_size, os.fstat(stream.fileno()).st_size + 1)
            if len(self._buffer) < wanted:
                self._buffer = bytearray(wanted)
            view = memoryview(self._buffer)[: max(wanted, 1)]
            while count := stream.readinto(view):
                digest.update(view[:count])
        return digest.hexdigest()


class _Walk:
    """One walk: an explicit stack (no recursion limit) and the set of directories visited."""

    def __init__(self, root: Path, options: ScanOptions) -> None:
        self._root = root
        self._selection = options.selection
        self._follow = options.follow_symlinks
        self._files: list[ScannedFile] = []
        self._directories: list[ScannedDirectory] = []
        self._problems: list[ScanProblem] = []
        self._visited: dict[tuple[int, int], str] = {}

    def run(self, start: str) -> DirectoryScan:
        try:
            root_stat = os.stat(self._root)
        except FileNotFoundError:
            return DirectoryScan(RootState.MISSING)
        except NotADirectoryError:
            # A path component above the root is a file.
            return DirectoryScan(RootState.MISSING)
        except OSError as exc:
            log.warning("cannot stat the root %s: %s", self._root, exc)
            return DirectoryScan(RootState.UNREADABLE)
        if not stat.S_ISDIR(root_stat.st_mode):
            return DirectoryScan(RootState.NOT_A_DIRECTORY)
        device, inode = root_stat.st_dev, root_stat.st_ino

        if start != ROOT_PATH and self._selection.excludes(start):
            return DirectoryScan(RootState.OK, root_device=device, root_inode=inode)
        start_stat = root_stat
        if start != ROOT_PATH:
            self._visited[(device, inode)] = ROOT_PATH
            found = self._enter_ancestors(start)
            if found is None:
                return DirectoryScan(RootState.MISSING, root_device=device, root_inode=inode)
            start_stat = found
        self._visited[(start_stat.st_dev, start_stat.st_ino)] = start
        self._directories.append(
            ScannedDirectory(
                start, start_stat.st_mtime_ns, start_stat.st_ctime_ns, start_stat.st_dev, start_stat.st_ino
            )
        )

        stack = [start]
        first = True
        while stack:
            directory = stack.pop()
            readable = self._list(directory, stack)
            if first and not readable:
                problems = tuple(self._problems)
                return DirectoryScan(RootState.UNREADABLE, problems=problems, root_device=device, root_inode=inode)
            first = False
        return DirectoryScan(
            RootState.OK,
            files=tuple(sorted(self._files, key=lambda f: f.path)),
            directories=tuple(sorted(self._directories, key=lambda d: d.path)),
            problems=tuple(self._problems),
            root_device=device,
            root_inode=inode,
        )

    def _enter_ancestors(self, start: str) -> os.stat_result | None:
        """Remember the directories from the root down to ``start`` as visited, so a link back up loops no more."""
        parts = start.split("/")
        current: os.stat_result | None = None
        for depth in range(1, len(parts) + 1):
            relative = "/".join(parts[:depth])
            try:
                current = os.stat(self._root / relative) if self._follow else os.lstat(self._root / relative)
            except OSError:
                return None
            if not stat.S_ISDIR(current.st_mode):
                return None
            if depth < len(parts):
                self._visited[(current.st_dev, current.st_ino)] = relative
        return current

    def _list(self, directory: str, stack: list[str]) -> bool:
        """List one directory, pushing its subdirectories; False when it could not be opened."""
        absolute = self._root if directory == ROOT_PATH else self._root / directory
        try:
            with os.scandir(absolute) as entries:
                for entry in entries:
                    self._entry(directory, entry, stack)
        except FileNotFoundError:
            return True  # removed while we walked: nothing there to report
        except NotADirectoryError:
            return True
        except OSError as exc:
            self._problems.append(ScanProblem(directory, ProblemKind.UNREADABLE_DIRECTORY, _reason(exc)))
            return False
        return True

    def _entry(self, directory: str, entry: os.DirEntry[str], stack: list[str]) -> None:
        path = join(directory, entry.name)
        if self._selection.excludes_entry(path):
            return
        try:
            is_link = entry.is_symlink()
            if is_link and not self._follow:
                return
            is_dir = entry.is_dir(follow_symlinks=self._follow)
        except OSError as exc:
            kind = ProblemKind.SYMLINK_LOOP if exc.errno == errno.ELOOP else ProblemKind.UNREADABLE_FILE
            self._problems.append(ScanProblem(path, kind, _reason(exc)))
            return
        if is_dir:
            self._directory(path, entry, stack)
        elif self._selection.has_image_name(entry.name):
            self._file(path, entry, is_link)

    def _directory(self, path: str, entry: os.DirEntry[str], stack: list[str]) -> None:
        try:
            info = entry.stat(follow_symlinks=self._follow)
        except FileNotFoundError:
            return
        except OSError as exc:
            self._problems.append(ScanProblem(path, ProblemKind.UNREADABLE_DIRECTORY, _reason(exc)))
            return
        key = (info.st_dev, info.st_ino)
        seen_as = self._visited.get(key)
        if seen_as is not None:
            self._problems.append(
                ScanProblem(path, ProblemKind.SYMLINK_LOOP, f"the same directory as {seen_as!r}, not walked twice")
            )
            return
        self._visited[key] = path
        self._directories.append(ScannedDirectory(path, info.st_mtime_ns, info.st_ctime_ns, info.st_dev, info.st_ino))
        stack.append(path)

    def _file(self, path: str, entry: os.DirEntry[str], is_link: bool) -> None:
        try:
            info = entry.stat(follow_symlinks=is_link)
        except FileNotFoundError:
            if is_link:
                self._problems.append(ScanProblem(path, ProblemKind.BROKEN_SYMLINK, "its target does not exist"))
            return  # otherwise deleted while we walked
        except OSError as exc:
            kind = ProblemKind.SYMLINK_LOOP if exc.errno == errno.ELOOP else ProblemKind.UNREADABLE_FILE
            self._problems.append(ScanProblem(path, kind, _reason(exc)))
            return
        if not stat.S_ISREG(info.st_mode):
            kind_name = _file_type(info.st_mode)
            self._problems.append(ScanProblem(path, ProblemKind.NOT_A_REGULAR_FILE, f"a {kind_name}, not a file"))
            return
        if not os.access(entry.path, os.R_OK):
            self._problems.append(ScanProblem(path, ProblemKind.UNREADABLE_FILE, "permission denied"))
            return
        self._files.append(ScannedFile(path, info.st_size, info.st_mtime_ns, info.st_dev, info.st_ino))


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _file_type(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISDIR(mode):
        return "directory"
    return "special file"
