"""What happened in a watched root, as the gallery index needs to hear it.

The live watcher turns the operating system's notifications (which are per inode, unordered within a
burst, and know nothing of file contents) into these facts about *gallery files*, with paths relative
to the root (POSIX, no ``./``; the root itself is ``"."``):

- A file event is reported once the file is complete — its size and mtime have stopped changing —
  so the index never embeds half an image. ``size`` and ``mtime_ns`` are what the watcher saw when it
  decided; the index stores them so the next reconciliation can skip the file.
- A rename is one :class:`FileMoved`, never a delete plus a create, so the image keeps its id and its
  vectors. A renamed or moved directory gives one :class:`FileMoved` per file inside it.
- Directory events describe the directory *tree* (for the directory view); every file affected is
  also reported by its own file event, so an index of files may ignore directory events. A
  :class:`DirectoryMoved` or :class:`DirectoryDeleted` stands for the whole subtree: the watcher does
  not repeat it for the subdirectories.
- :class:`RootUnavailable` and :class:`RootAvailable` say when the root went away (removed,
  unmounted, unreadable) and came back. While it is away the watcher reports no deletions: an
  unmounted disk is not an emptied gallery.

Within one batch the events come in an order that can be applied one by one to an index with one
row per path: directories created (outside moved ones), directories moved, directories created inside
moved ones, files deleted, files moved, files modified, files created, directories deleted. A move
never targets a path the index still has. File events always name a file's own old and new path;
directory events name directories as the directory tree has them after the earlier directory events
(a subdirectory removed just after its parent was renamed is deleted at its new path).

The events are differences from the watcher's own picture of the tree (its first scan, then what it
reported), not from the index. The two agree once the index has been reconciled with that first
scan, but an index should still apply events as facts about the present, idempotently: a
:class:`FileCreated` or :class:`FileModified` for a path it has means "compare and update", a
:class:`FileDeleted` for a path it lacks is nothing to do, and a :class:`FileMoved` whose old path it
lacks is a creation at the new path. (A watcher that started while its root was missing has an empty
picture, so when the root appears it reports every file as created.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FileCreated:
    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class FileModified:
    """Same path, new content (or only new metadata: the index compares hashes to tell)."""

    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class FileMoved:
    """The same file (same inode, size and mtime) now lives at ``new_path``: it keeps its id."""

    old_path: str
    new_path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class FileDeleted:
    path: str


@dataclass(frozen=True, slots=True)
class DirectoryCreated:
    path: str


@dataclass(frozen=True, slots=True)
class DirectoryMoved:
    """The directory and everything below it now live under ``new_path``."""

    old_path: str
    new_path: str


@dataclass(frozen=True, slots=True)
class DirectoryDeleted:
    """The directory and everything below it are gone (moved out of the tree or removed)."""

    path: str


@dataclass(frozen=True, slots=True)
class RootUnavailable:
    """The root cannot be watched for now; ``reason`` says why. No deletions follow from this."""

    reason: str


@dataclass(frozen=True, slots=True)
class RootAvailable:
    """The root is back (or was first found); changes made meanwhile follow as ordinary events."""


FileChange = FileCreated | FileModified | FileMoved | FileDeleted
DirectoryChange = DirectoryCreated | DirectoryMoved | DirectoryDeleted
RootChange = RootUnavailable | RootAvailable
GalleryChange = FileChange | DirectoryChange | RootChange
