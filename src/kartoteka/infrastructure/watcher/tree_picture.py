"""The watcher's picture of a tree: the image files and directories it has reported, as plain values.

Paths are root-relative, POSIX-style, the root itself ``"."`` (see :mod:`kartoteka.domain.gallery.scan`).
Besides the two maps (file → its stat, directory → its (device, inode)) the picture keeps each
directory's children, so a subtree is listed without going through every path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kartoteka.domain.gallery.scan import ROOT_PATH, DirectoryScan, is_within, parent_of
from kartoteka.infrastructure.watcher.tree_facts import FileStat, Identity


@dataclass(slots=True)
class Arrival:
    """A file seen in a state not reported yet, waiting to settle."""

    stat: FileStat
    stable_since: float
    touched_at: float


@dataclass(slots=True)
class NewDirectory:
    """A directory seen at a path where the picture has none (or another one), not reported yet."""

    identity: Identity
    since: float


class Picture:
    """The files and directories as reported so far."""

    def __init__(self) -> None:
        self.files: dict[str, FileStat] = {}
        self.dirs: dict[str, Identity] = {}
        self._children: dict[str, set[str]] = {}

    def adopt(self, scan: DirectoryScan) -> None:
        """Start afresh from a scan of the whole root."""
        self.files.clear()
        self.dirs.clear()
        self._children.clear()
        for directory in scan.directories:
            if directory.path != ROOT_PATH:
                self.add_dir(directory.path, (directory.device, directory.inode))
        for file in scan.files:
            self.add_file(file.path, FileStat(file.size, file.mtime_ns, file.device, file.inode))

    def add_file(self, path: str, observed: FileStat) -> None:
        self.files[path] = observed
        self._children.setdefault(parent_of(path), set()).add(path)

    def remove_file(self, path: str) -> None:
        if self.files.pop(path, None) is not None:
            self._unlink_child(path)

    def add_dir(self, path: str, identity: Identity) -> None:
        self.dirs[path] = identity
        self._children.setdefault(parent_of(path), set()).add(path)

    def remove_dir(self, path: str) -> None:
        if self.dirs.pop(path, None) is not None:
            self._unlink_child(path)

    def _unlink_child(self, path: str) -> None:
        siblings = self._children.get(parent_of(path))
        if siblings is not None:
            siblings.discard(path)
            if not siblings:
                del self._children[parent_of(path)]

    def subtree(self, path: str) -> Iterable[tuple[str, list[str]]]:
        """Each known directory at and below ``path`` with the known files directly in it."""
        stack = [path]
        while stack:
            directory = stack.pop()
            files: list[str] = []
            for child in self._children.get(directory, ()):
                if child in self.dirs:
                    stack.append(child)
                elif child in self.files:
                    files.append(child)
            yield directory, files


def ancestors(path: str) -> Iterable[str]:
    """The directories above ``path``, nearest first, the root excluded."""
    directory = parent_of(path)
    while directory != ROOT_PATH:
        yield directory
        directory = parent_of(directory)


def depth_first(path: str) -> tuple[int, str]:
    """A sort key that puts parents before their children."""
    return path.count("/"), path


def has_new_dir_above(path: str, new_dirs: Mapping[str, NewDirectory]) -> bool:
    if not new_dirs:
        return False
    directory = parent_of(path)
    while directory != ROOT_PATH:
        if directory in new_dirs:
            return True
        directory = parent_of(directory)
    return False


def outermost(paths: list[str]) -> list[str]:
    """Drop the paths that lie under another path of the list (a subtree is one event)."""
    kept: list[str] = []
    for path in sorted(paths, key=depth_first):
        if not any(path.startswith(k + "/") for k in kept):
            kept.append(path)
    return sorted(kept)


def map_path(path: str, moves: list[tuple[str, str]]) -> str:
    """Where ``path`` is once the directory moves (old, new) are applied (the deepest one that applies)."""
    for old, new in reversed(moves):
        if is_within(path, old):
            return new + path[len(old) :]
    return path


def name_of(path: str) -> str:
    return path.rpartition("/")[2]
