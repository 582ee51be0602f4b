"""Gallery settings: which directories are indexed, and how the watcher treats them.

A section of its own so that the scanner and the watcher depend on what they need, not on the whole
configuration; the lead wires it into ``Settings``. Defaults are the safe choices: symbolic links
are not followed, a root that scans empty deletes nothing, and hidden entries (``.Trash-1000`` on a
USB disk, ``.thumbnails`` caches) are not indexed.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kartoteka.domain.gallery.selection import DEFAULT_IMAGE_EXTENSIONS, FileSelection, normalise_extension


class WatchedRoot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = Field(
        description="Directory to index and watch. Read in place, never written. A relative path is taken "
        "from the working directory of the process, so an absolute one is safer.",
    )
    name: str | None = Field(
        None,
        min_length=1,
        description="Name shown for this root; defaults to the directory's own name.",
    )

    @field_validator("path")
    @classmethod
    def _not_empty(cls, value: Path) -> Path:
        if not str(value).strip() or str(value) == ".":
            # "." or "./" would watch whatever directory the server happens to start in, files it
            # writes there included: a root must be named on purpose.
            raise ValueError("must name a directory other than the working directory (an absolute path is best)")
        return value

    @property
    def display_name(self) -> str:
        return self.name or self.path.name or str(self.path)

    @property
    def normalised(self) -> str:
        """Absolute, ``..``-free spelling (without touching the filesystem), to compare roots."""
        return os.path.normpath(os.path.abspath(self.path))


class GallerySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    roots: list[WatchedRoot] = Field(
        default_factory=list,
        description="Watched directories; each is reconciled at start-up and then watched. Empty: no gallery "
        "directory (uploads only).",
    )
    extensions: tuple[str, ...] = Field(
        DEFAULT_IMAGE_EXTENSIONS,
        min_length=1,
        description="Image file extensions, matched case-insensitively (`.JPG` counts as `jpg`); a leading dot "
        "is optional.",
    )
    follow_symlinks: bool = Field(
        False,
        description="Follow symbolic links to files and directories. Off: links are skipped. On: every "
        "directory is walked once even through several links, so loops end.",
    )
    debounce_ms: int = Field(
        500,
        ge=10,
        le=60_000,
        description="How long the watcher waits for related notifications (the two halves of a rename, the "
        "files of a removed directory) before it decides: a deletion is reported only when no matching "
        "arrival came within this time.",
    )
    stable_after_ms: int = Field(
        1000,
        ge=0,
        le=600_000,
        description="A new or changed file is reported once its size and mtime stayed the same this long, so "
        "a file still being copied is not indexed half-written. Raise it for slow network copies.",
    )
    allow_empty_root_deletion: bool = Field(
        False,
        description="Let a root that scans empty (or has vanished) delete its indexed images. Off: an empty "
        "root is taken for an unmounted disk and nothing is deleted.",
    )
    exclude: tuple[str, ...] = Field(
        (".*",),
        description="Glob patterns (fnmatch, case-sensitive) of paths not to index, matched against the path "
        "relative to the root and, for patterns without `/`, against each entry's name; an excluded "
        "directory excludes its subtree. The default skips hidden files and directories.",
    )
    thumbnail_size: int = Field(
        256,
        ge=16,
        le=4096,
        description="Longest side in pixels of the thumbnails made for gallery images (aspect ratio kept).",
    )
    batch_size: int = Field(
        32,
        ge=1,
        le=4096,
        description="Files per indexing batch: hashed, recorded and queued for embedding together.",
    )
    force_polling: bool = Field(
        False,
        description="Watch by polling instead of inotify: for network and FUSE filesystems, where inotify "
        "sees only local changes. The watcher also falls back to polling by itself when inotify cannot "
        "be set up (for instance when fs.inotify.max_user_watches is exhausted).",
    )
    poll_delay_ms: int = Field(
        1000,
        ge=50,
        le=600_000,
        description="Interval between polls when polling (see `force_polling`).",
    )
    rescan_interval_s: float = Field(
        900.0,
        ge=0.0,
        description="Rescan each root this often and report what the notifications missed (an inotify queue "
        "overflow, changes on a network share, a change that could not be applied); 0 turns it off. Each "
        "rescan walks the whole tree, so raise it for very large roots.",
    )

    @field_validator("extensions")
    @classmethod
    def _normalise_extensions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(normalise_extension(e) for e in value))

    @field_validator("exclude")
    @classmethod
    def _patterns_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not pattern.strip() for pattern in value):
            raise ValueError("an exclusion pattern may not be empty")
        return value

    @model_validator(mode="after")
    def _roots_are_distinct(self) -> GallerySettings:
        names: set[str] = set()
        paths: list[str] = []
        for root in self.roots:
            if root.display_name in names:
                raise ValueError(f"two roots are named {root.display_name!r}; give them distinct names")
            names.add(root.display_name)
            here = root.normalised
            for other in paths:
                if here == other or here.startswith(other.rstrip(os.sep) + os.sep) or other.startswith(here + os.sep):
                    # Nested roots would index and watch the same files twice, under two ids.
                    raise ValueError(f"roots {other!r} and {here!r} overlap")
            paths.append(here)
        return self

    @property
    def selection(self) -> FileSelection:
        return FileSelection.of(self.extensions, self.exclude)
