"""What a walk of one watched root saw, as plain values.

A scan is the filesystem's side of a reconciliation: it says which image files exist (with the cheap
facts ``stat`` gives — size and modification time — never their contents), which directories exist,
and, as importantly, what it could *not* see. A file that could not be listed is not a deleted file:
the reconciliation keeps its index row, so a permission glitch or a half-mounted share never erases
part of the gallery. The scanner that fills these values lives in the infrastructure layer.

Paths are relative to the root, POSIX-style (``"a/b.jpg"``), never starting with ``./``; the root
directory itself is ``"."``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

ROOT_PATH = "."


class RootState(enum.StrEnum):
    """Whether the root could be walked at all."""

    OK = "ok"
    MISSING = "missing"
    NOT_A_DIRECTORY = "not_a_directory"
    UNREADABLE = "unreadable"


class ProblemKind(enum.StrEnum):
    """Why an entry inside the root was not listed."""

    UNREADABLE_DIRECTORY = "unreadable_directory"
    UNREADABLE_FILE = "unreadable_file"
    NOT_A_REGULAR_FILE = "not_a_regular_file"
    BROKEN_SYMLINK = "broken_symlink"
    SYMLINK_LOOP = "symlink_loop"

    @property
    def hides_subtree(self) -> bool:
        """True when files may exist below this path that the scan could not list."""
        return self is ProblemKind.UNREADABLE_DIRECTORY

    @property
    def leaves_file_unverified(self) -> bool:
        """True when an image may still be at this path (or come back) even though it was not listed.

        An unreadable file or directory still holds its images; a dangling symlink usually points into
        a share that is away for the moment. A FIFO or a socket with an image name, or a symlink loop,
        is no image, so an index row at such a path is stale and may go.
        """
        return self in {ProblemKind.UNREADABLE_DIRECTORY, ProblemKind.UNREADABLE_FILE, ProblemKind.BROKEN_SYMLINK}


@dataclass(frozen=True, slots=True)
class ScanProblem:
    """An entry the scan skipped, with the reason, for a warning the operator can act on."""

    path: str
    kind: ProblemKind
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ScannedFile:
    """An image file as ``stat`` describes it: enough to tell "unchanged" without reading it.

    ``device`` and ``inode`` identify the file on its filesystem (0 when unknown). The index does not
    keep them (they change on a copy or a restore); the watcher uses them to recognise a rename.
    """

    path: str
    size: int
    mtime_ns: int
    device: int = 0
    inode: int = 0


@dataclass(frozen=True, slots=True)
class ScannedDirectory:
    """A directory of the tree, for the directory view of a root (``"."`` is the root).

    ``device`` and ``inode`` (0 when unknown) let the watcher recognise a renamed directory.
    """

    path: str
    mtime_ns: int
    ctime_ns: int
    device: int = 0
    inode: int = 0


@dataclass(frozen=True, slots=True)
class DirectoryScan:
    """The result of walking one root."""

    state: RootState
    files: tuple[ScannedFile, ...] = ()
    directories: tuple[ScannedDirectory, ...] = ()
    problems: tuple[ScanProblem, ...] = ()
    root_device: int | None = None
    root_inode: int | None = None

    @property
    def root_ok(self) -> bool:
        return self.state is RootState.OK


def parent_of(path: str) -> str:
    """The directory holding ``path`` (``"."`` for a top-level entry)."""
    head, sep, _ = path.rpartition("/")
    return head if sep else ROOT_PATH


def is_within(path: str, directory: str) -> bool:
    """True when ``path`` is ``directory`` itself or lies below it (the root contains everything)."""
    if directory == ROOT_PATH:
        return True
    return path == directory or path.startswith(directory + "/")


def join(directory: str, name: str) -> str:
    """The relative path of ``name`` inside ``directory``."""
    return name if directory == ROOT_PATH else f"{directory}/{name}"
