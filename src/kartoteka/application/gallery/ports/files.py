"""Reading gallery bytes wherever they live, drawing thumbnails, hashing watched files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kartoteka.domain.gallery.image import GalleryImage


class ImageBytes(Protocol):
    """Reads an image's bytes wherever they are: a file in a watched root or an S3 object."""

    async def read(self, image: GalleryImage) -> bytes:
        """Raises ImageNotFoundError when the file or object is gone."""
        ...


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
