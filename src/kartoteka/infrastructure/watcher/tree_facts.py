"""What goes into the watcher's tree state and what comes out of it, as plain values.

In: what a ``stat`` found at a path (:data:`PathFact`), the root's :data:`Identity` or why it is
gone (:class:`RootGone`), and scans (:class:`~kartoteka.domain.gallery.scan.DirectoryScan`). Out:
an :class:`Outcome` per pass, the changes to report and what to do with the OS watch.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kartoteka.domain.gallery.changes import GalleryChange

Batch = tuple[GalleryChange, ...]

Identity = tuple[int, int]
"""(device, inode): which file or directory on which filesystem."""


@dataclass(frozen=True, slots=True)
class FileStat:
    """A regular file as ``stat`` describes it; equal stats mean the watcher sees the same file version."""

    size: int
    mtime_ns: int
    device: int = 0
    inode: int = 0


class Found(enum.Enum):
    """What a ``stat`` of a path found, when it is not a regular file."""

    NOTHING = "nothing"  # no such path (or a component above it is no directory)
    DIRECTORY = "directory"
    OTHER = "other"  # a symlink not followed, a FIFO, a socket, a device


@dataclass(frozen=True, slots=True)
class Unreadable:
    """The path could not be ``stat``-ed for another reason: unreadable is not gone."""

    reason: str


PathFact = FileStat | Found | Unreadable
"""What is at one path now: a regular file (with its stat), something else, nothing, or unknown."""


@dataclass(frozen=True, slots=True)
class RootGone:
    """The root cannot be used now, and why."""

    reason: str


class Watch(enum.Enum):
    """What a pass asks the caller to do with the OS watch."""

    KEEP = enum.auto()
    STOP = enum.auto()
    REARM = enum.auto()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a pass ends with: the changes to report, in applying order, and what to do with the watch."""

    changes: Batch = ()
    watch: Watch = Watch.KEEP


QUIET = Outcome()
