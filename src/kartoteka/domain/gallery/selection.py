"""Which paths under a root belong to the gallery.

One rule set serves the start-up scan and the live watcher, so the two can never disagree about a
file (say, one taking ``.JPG`` and the other not). Image
extensions compare case-insensitively because cameras and phones write ``IMG_0001.JPG``. Exclusion
patterns compare case-sensitively, as the paths themselves do on the filesystems we serve.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

DEFAULT_IMAGE_EXTENSIONS: tuple[str, ...] = ("jpg", "jpeg", "png", "webp", "gif", "bmp", "tiff", "tif")


def normalise_extension(extension: str) -> str:
    """``".JPG"`` and ``"jpg"`` name the same extension: lower case, no leading dot."""
    value = extension.strip().lstrip(".").lower()
    if not value or "/" in value:
        raise ValueError(f"not a file extension: {extension!r}")
    return value


@dataclass(frozen=True, slots=True)
class FileSelection:
    """Image extensions and exclusion globs.

    An exclusion pattern is matched (``fnmatch``, case-sensitive) against the whole relative path
    and, when the pattern has no ``/``, also against the entry's own name, so ``.*`` excludes every
    hidden file and directory at any depth while ``raw/*`` excludes only what lies in the top-level
    ``raw``. An excluded directory excludes everything below it.
    """

    extensions: frozenset[str] = frozenset(DEFAULT_IMAGE_EXTENSIONS)
    exclude: tuple[str, ...] = ()

    @classmethod
    def of(cls, extensions: Iterable[str] = DEFAULT_IMAGE_EXTENSIONS, exclude: Iterable[str] = ()) -> FileSelection:
        return cls(frozenset(normalise_extension(e) for e in extensions), tuple(exclude))

    def has_image_name(self, name: str) -> bool:
        """True when the file name ends in one of the image extensions, in any letter case."""
        _, dot, extension = name.rpartition(".")
        return bool(dot) and extension.lower() in self.extensions

    def excludes_entry(self, path: str) -> bool:
        """True when this entry itself matches a pattern (its parents are not looked at), or when its
        name is not text: bytes that are not UTF-8 arrive as lone surrogates (``bad\udcff.png``), which
        no database column or client can hold, so such an entry is left out rather than failing its batch."""
        name = path.rpartition("/")[2]
        if any("\ud800" <= char <= "\udfff" for char in name):
            return True
        if not self.exclude:
            return False
        for pattern in self.exclude:
            if fnmatchcase(path, pattern):
                return True
            if "/" not in pattern and fnmatchcase(name, pattern):
                return True
        return False

    def excludes(self, path: str) -> bool:
        """True when the entry or any directory above it is excluded."""
        parts = path.split("/")
        return any(self.excludes_entry("/".join(parts[: i + 1])) for i in range(len(parts)))

    def selects_file(self, path: str) -> bool:
        """True for an image path that no exclusion removes: one the gallery indexes."""
        return self.has_image_name(path) and not self.excludes(path)
