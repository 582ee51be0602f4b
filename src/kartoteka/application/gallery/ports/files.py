"""Reading gallery bytes wherever they live, drawing thumbnails, hashing watched files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kartoteka.domain.gallery.image import GalleryImage


class ImageBytes(Protocol):
    """Reads an image's bytes wherever they are: a file in a watched root or an S3 object."""

    async def read(self, image: GalleryImage) -> bytes:
        """Raises ImageNotFoundError when the file or object is gone."""
        ...

    async def local_file(self, image: GalleryImage) -> LocalFile | None:
        """The file of a watched-directory image, to be streamed rather than read whole (None for an
        image kept in S3, whose size an upload limit bounds); raises ImageNotFoundError when it is gone."""
        ...


@dataclass(frozen=True, slots=True)
class LocalFile:
    path: Path
    size: int
    head: bytes  # the first bytes, enough to tell the format by


@dataclass(frozen=True, slots=True)
class Thumbnail:
    data: bytes
    media_type: str
    width: int  # of the original, upright
    height: int


class ThumbnailMaker(Protocol):
    async def make(self, data: bytes) -> Thumbnail:
        """Raises UnreadableImageError for bytes that are not a decodable image."""
        ...


class FileHasher(Protocol):
    """Content hashes of files of a watched root; a file that cannot be read is left out."""

    async def hash_many(self, root: str, paths: Sequence[str]) -> dict[str, str]: ...
